"""Any shop's mail: a track number with a valid check digit, next to a word about tracking.

Only numbers whose check digit proves them (UPU S10 like `RA123456785CN`, Russian Post's 14
digits) are taken, and only near "track"/"трек"/"отслеживани"/"ШПИ", so that an invoice, a phone
number or a promo code never becomes a parcel. The order is the one the mail names, if it names
one; else the intake joins the order that already has the number or derives an id from the shop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from monitor import numbers
from monitor.mail.message import Mail
from monitor.mail.reader import Finding, FoundTrack, MailReader

# 13 or 14 letters and digits, single spaces or dashes anywhere between them ("RA 5551 2345
# 3CN", "8008 1234 5678 93"), tried at every start: only the check digit decides.
_CANDIDATE = re.compile(r"(?<![A-Z0-9])(?=([A-Z0-9](?:[ -]?[A-Z0-9]){12,13})(?![A-Z0-9]))")
_NEAR = re.compile(r"track|трек|отслежива|tracking|идентификатор|ШПИ|sendungsnummer", re.IGNORECASE)
_NEAR_CHARS = 120
_ORDER = re.compile(
    r"(?:order|заказ[а-я]*)\s*(?:number|no\.?|id|номер)?\s*[:#№]\s*([A-Z0-9][A-Z0-9-]{3,24})",
    re.IGNORECASE,
)
_CHECKED = {numbers.S10, numbers.RUSSIAN_POST}


def _proven(number: str) -> bool:
    return bool(numbers.detect(number) & _CHECKED)


def shop_of(mail: Mail) -> str:
    """The sender's name, else the second-level part of its domain (`ozon` of `news.ozon.ru`)."""
    if mail.sender_name.strip():
        return mail.sender_name.strip()
    parts = mail.sender_domain.split(".")
    return parts[-2] if len(parts) >= 2 else mail.sender_domain or "unknown shop"


class GenericMail(MailReader):
    name = "generic"
    priority = 100  # the reader of last resort

    def reads(self, mail: Mail) -> bool:
        return True

    def read(self, mail: Mail) -> Sequence[Finding]:
        text = mail.text
        found: list[str] = []
        for match in _CANDIDATE.finditer(text):
            number = numbers.normalize(match[1])
            if len(number) == 14 and match[1][-2] in " -":
                # "RA 5551 2345 3CN 7": the longest run is not the number, the 13 before are.
                number = next((n for n in (number, number[:13]) if _proven(n)), number)
            if not _proven(number) or number in found:
                continue
            if _NEAR.search(text[max(0, match.start() - _NEAR_CHARS) : match.start()]):
                found.append(number)
        if not found:
            return []
        named = [m[1] for m in _ORDER.finditer(text) if any(c.isdigit() for c in m[1])]
        named = [n for n in named if numbers.normalize(n) not in found]
        return [
            Finding(
                shop=shop_of(mail),
                order_id=named[0] if named else None,
                tracks=tuple(FoundTrack(n) for n in dict.fromkeys(found)),
            )
        ]


MAIL_READER = GenericMail
