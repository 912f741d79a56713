"""AliExpress mails, Russian and English: order confirmations, shipping notices, changed numbers.

What public parsers know of these mails, and what this reader relies on: the track number
follows "TRACKING NUMBER :" (or its Russian wording) in a paragraph of its own or on the same
line, links carry `orderId=<digits>&`, and order numbers are 15 to 19 digits. The templates
change often, so every field is optional and found by its label wherever it stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from monitor.mail.message import Mail
from monitor.mail.reader import Finding, FoundTrack, MailReader
from monitor.mail.textdates import DATE_PATTERN, parse_date

_SENDER = re.compile(r"(?:^|\.)aliexpress\.(?:com|ru|us)$")
_ORDER = re.compile(
    r"(?:order\s*(?:number|no\.?|id|#)|номер\s+заказа|заказ[а-я]*\s*(?:№|#|номер)?)"
    r"\s*[:#№]?\s*(\d{15,19})(?!\d)",
    re.IGNORECASE,
)
_ORDER_LINK = re.compile(r"[?&]orderIds?=(\d{15,19})&")
_TRACK = re.compile(
    r"(?P<old>(?:old|previous|прежний|старый|предыдущий)\s+)?"
    r"(?:tracking\s*(?:number|no\.?|code)|трек[- ]?номер|номер\s+(?:для\s+)?отслеживания)"
    r"\s*:?\s*(?P<number>[A-Z0-9]{8,30})(?![A-Z0-9])",
    re.IGNORECASE,
)
_CARRIER = re.compile(
    r"(?:carrier|logistics\s+(?:company|provider|service)|shipping\s+(?:company|method)|"
    r"служба\s+доставки|перевозчик|способ\s+доставки)\s*:\s*([^\n]{2,60})",
    re.IGNORECASE,
)
_ORDERED = re.compile(
    r"(?:order\s+(?:date|time|placed(?:\s+on)?)|placed\s+on|дата\s+заказа|заказ\s+оформлен)"
    rf"\s*:?\s*({DATE_PATTERN})",
    re.IGNORECASE,
)
_TITLE = re.compile(r"^(?:item|product|товар|наименование)\s*:\s*(.{2,200})$", re.I | re.M)
_PROTECTION_UNTIL = re.compile(
    r"(?:(?:buyer|purchase)\s+protection[^\n\d]{0,40}?(?:until|ends(?:\s+on)?|expires(?:\s+on)?)"
    r"|защит[аы]\s+покупателя[^\n\d]{0,40}?(?:до|истекает))"
    rf"(?:\s*:)?\s*({DATE_PATTERN})",
    re.IGNORECASE,
)
_PROTECTION_DAYS = re.compile(
    r"(?:(?:buyer|purchase)\s+protection|защита\s+покупателя)\s*:?\s*(\d{1,3})\s*(?:days|дн)",
    re.IGNORECASE,
)
_PROMISED = re.compile(
    r"(?:delivery\s+guaranteed\s+by|guaranteed\s+delivery(?:\s+by)?|delivered\s+by|"
    r"arrives?\s+by|гарантированная\s+доставка\s+до|доставим\s+до|доставка\s+до)"
    rf"\s*:?\s*({DATE_PATTERN})",
    re.IGNORECASE,
)


def _track_like(number: str) -> bool:
    return any(c.isdigit() for c in number) and (not number.isdigit() or len(number) >= 10)


class AliExpressMail(MailReader):
    name = "aliexpress"

    def reads(self, mail: Mail) -> bool:
        return bool(_SENDER.search(mail.sender_domain))

    def read(self, mail: Mail) -> Sequence[Finding]:
        text, zone = mail.text, mail.date.tzinfo if mail.date else None
        named = [(m.start(), m[1]) for m in _ORDER.finditer(text)]
        orders = [n for _, n in named]
        orders += [m[1] for link in mail.links for m in _ORDER_LINK.finditer(link)]
        order_id = orders[0] if orders else None
        # A mail about several orders: each number belongs to the order named last before it.
        per_order: dict[str | None, tuple[list[str], list[str]]] = {order_id: ([], [])}
        for match in _TRACK.finditer(text):
            number = match["number"].upper()
            if not _track_like(number):
                continue
            before = [n for at, n in named if at < match.start()]
            owner = before[-1] if before else order_id
            tracks, old = per_order.setdefault(owner, ([], []))
            (old if match["old"] else tracks).append(number)
        carrier = _CARRIER.search(text)
        # A changed number: the old one first, so that the new one ends up the current one; the
        # carrier the mail names is the new number's.
        found_tracks = {
            owner: tuple(
                FoundTrack(n, carrier[1].strip() if carrier and n in tracks else "")
                for n in dict.fromkeys([*old, *tracks])
            )
            for owner, (tracks, old) in per_order.items()
        }
        if order_id is None and not found_tracks[None]:
            return []  # a newsletter, a sale, a review request: nothing to watch
        ordered = _ORDERED.search(text)
        ordered_at = parse_date(ordered[1], zone) if ordered else None
        protection = None
        if until := _PROTECTION_UNTIL.search(text):
            protection = parse_date(until[1], zone)
        elif (days := _PROTECTION_DAYS.search(text)) and ordered_at is not None:
            protection = ordered_at + timedelta(days=int(days[1]))
        promised = _PROMISED.search(text)
        promised_at = parse_date(promised[1], zone) if promised else None
        title = _TITLE.search(text)
        first = Finding(
            shop="AliExpress",
            order_id=order_id,
            ordered_at=ordered_at,
            title=title[1].strip() if title else "",
            tracks=found_tracks.pop(order_id),
            protection_until=protection,
            promised_by=promised_at.date() if promised_at else None,
        )
        # The other orders' dates and items are not told apart: only their numbers are kept.
        others = [Finding(shop="AliExpress", order_id=o, tracks=t) for o, t in found_tracks.items()]
        return [first, *(f for f in others if f.tracks)]


MAIL_READER = AliExpressMail
