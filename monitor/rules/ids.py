"""The rule ids of DOMAIN.md: one small module every layer may import (settings, texts, views)
without loading the engine."""

from __future__ import annotations

RULE_IDS: tuple[str, ...] = (
    "track_missing",
    "not_trackable",
    "eta_shifted",
    "stalled",
    "customs_delay",
    "stuck_at_post_office",
    "overdue",
    "protection_expiring",
    # The last mile and the traps (DOMAIN.md, second set).
    "protection_gap",
    "action_required",
    "delivery_failed",
    "storage_ending",
    "wrong_destination",
    "returning",
    "delivered",
)
"""Every rule id, in the order warnings of the same moment are raised."""

OUTCOME_RULES = frozenset({"returning", "delivered", "wrong_destination"})
"""The only rules that still speak once the parcel is delivered or returning (a number delivered
in another city is the fake-track trick)."""

MAIL_IMPORT = "mail_import"
"""The "found in your mail" info notice of the e-mail intake (monitor.mail.intake). Not a rule of
the engine, but recorded in the ledger like one and muted the same way
(`rules.disabled = ["mail_import"]`)."""

NOTICE_IDS: tuple[str, ...] = (MAIL_IMPORT,)
"""Ledger ids that are not engine rules: notices other parts raise."""

UNTIL_REALLY_DELIVERED = frozenset({"protection_expiring"})
"""The rules that keep watching a parcel "delivered" at another place than the buyer's: for the
buyer it has not arrived, and the dispute must be opened before protection ends."""

UNHELD_RULES = frozenset({"track_missing"})
"""The rules a first lookup never holds back: they speak about the lack of a number itself."""
