"""Notifications: the words of every warning (ru/en) and their delivery through Apprise.

`texts` holds every sentence, `render` turns a stored warning into a message, `channels` wraps
Apprise, `outbox` is the persistent queue in the store and `sender` delivers it. Nothing is
imported here so that the rule engine can use `texts` without pulling in Apprise.
"""
