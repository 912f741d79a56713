"""E-mail intake: shop mails become orders and track numbers (docs/mail.md).

`message` turns raw mail into text, `reader` is the plugin contract for the readers that extract
orders from it, `intake` writes what they found through the order book, `imap` watches a mailbox
read-only and `files` reads .eml files, mboxes and Maildirs.
"""
