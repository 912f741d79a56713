"""Tracking: asking the sources (`poller`), turning their answers into stored state and events
(`differ`), and the pure derivation of an order's state from what they said (`derive`).

One-way: the poller hands snapshots to the differ; the differ writes history through the store,
hands new numbers (hand-overs) to the order book, and publishes events after each commit.
"""
