"""Dates as shops write them in mails, in English and Russian.

`2026-11-02 14:31`, `02.11.2026`, `2 November 2026`, `Nov 2, 2026`, `2 ноября 2026 г., 14:31`.
A date without an offset is taken in the zone of the mail's own Date header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RU = ("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")
_MONTHS = {**{m: i for i, m in enumerate(_EN, 1)}, **{m: i for i, m in enumerate(_RU, 1)}, "май": 5}
_TIME = r"(?:,?\s*(?:г\.,?\s*)?(?:at\s+|в\s+)?(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
_FORMS = [
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]?" + _TIME[3:]),
    re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _TIME),
    re.compile(r"(?P<d>\d{1,2})\s+(?P<mon>[A-Za-zА-Яа-яЁё]{3,9})\.?,?\s+(?P<y>\d{4})" + _TIME),
    re.compile(r"(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2}),?\s+(?P<y>\d{4})" + _TIME),
]
# Any of the forms without named groups, for use inside a reader's larger pattern.
DATE_PATTERN = re.sub(r"\?P<\w+>", "?:", "|".join(f"(?:{form.pattern})" for form in _FORMS))


def parse_date(text: str, zone: tzinfo | None) -> datetime | None:
    """The first date at the start of `text`, or None."""
    text = text.strip()
    for form in _FORMS:
        match = form.match(text)
        if match is None:
            continue
        parts = match.groupdict()
        month = int(parts["m"]) if parts.get("m") else _MONTHS.get(parts["mon"][:3].casefold())
        if month is None:
            continue
        try:
            return datetime(
                int(parts["y"]),
                month,
                int(parts["d"]),
                int(parts["h"] or 0),
                int(parts["mi"] or 0),
                int(parts["s"] or 0),
                tzinfo=zone or UTC,
            )
        except ValueError:
            return None
    return None
