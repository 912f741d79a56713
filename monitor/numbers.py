"""Track-number formats: which kind of number a buyer pasted, and which sources can follow it.

The check-digit rules are the carriers' own (UPU S10, Russian Post's 14-digit domestic numbers);
the other patterns are what Cainiao and the big Chinese consolidators print on their labels.
A number may match several formats (an S10 number of Yanwen's is both), hence sets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

S10 = "s10"
RUSSIAN_POST = "russian_post"
CAINIAO = "cainiao"
YUNEXPRESS = "yunexpress"
FOURPX = "4px"
YANWEN = "yanwen"

_S10_SHAPE = re.compile(r"[A-Z]{2}(\d{8})(\d)[A-Z]{2}")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_PATTERNS: dict[str, re.Pattern[str]] = {
    CAINIAO: re.compile(r"LP\d{14}|AE\d{9}|[A-Z]{2}\d{10}Y"),
    YUNEXPRESS: re.compile(r"YT\d{16}"),
    FOURPX: re.compile(r"(?:4PX|FPXE)\d{8,}"),
    YANWEN: re.compile(r"Y[A-Z]\d{9}[A-Z]{2}"),
}

# Which built-in source can follow which format. 17TRACK detects carriers itself and so takes any
# number; Russian Post tracks every S10 item once it reaches Russia, not only its own `..RU` ones.
_SOURCES_FOR_FORMAT: dict[str, frozenset[str]] = {
    S10: frozenset({"russianpost", "cainiao", "seventeentrack"}),
    RUSSIAN_POST: frozenset({"russianpost", "seventeentrack"}),
    CAINIAO: frozenset({"cainiao", "seventeentrack"}),
    YUNEXPRESS: frozenset({"seventeentrack"}),
    FOURPX: frozenset({"seventeentrack"}),
    YANWEN: frozenset({"seventeentrack"}),
}
_UNRECOGNISED = frozenset({"seventeentrack"})
_KNOWN_SOURCES = frozenset().union(*_SOURCES_FOR_FORMAT.values())


def normalize(number: str) -> str:
    """Upper-case, without the spaces and dashes people copy from order pages."""
    return re.sub(r"[\s-]+", "", number).upper()


def s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an 8-digit serial number."""
    remainder = 11 - sum(w * int(d) for w, d in zip(_S10_WEIGHTS, serial, strict=True)) % 11
    return {10: 0, 11: 5}.get(remainder, remainder)


def s10_valid(number: str) -> bool:
    """Two letters, 8 digits, the right check digit, two country letters (`RB123456785CN`)."""
    match = _S10_SHAPE.fullmatch(normalize(number))
    return match is not None and s10_check_digit(match[1]) == int(match[2])


def russian14_valid(number: str) -> bool:
    """A Russian Post domestic number: 14 digits whose last one checks the first 13."""
    digits = normalize(number)
    if not (len(digits) == 14 and digits.isascii() and digits.isdigit()):
        return False
    odd = sum(int(d) for d in digits[0:13:2])  # positions 1, 3, ..., 13
    even = sum(int(d) for d in digits[1:12:2])  # positions 2, 4, ..., 12
    return (10 - (3 * odd + even) % 10) % 10 == int(digits[13])


def detect(number: str) -> set[str]:
    """All formats the number matches; empty when none does."""
    cleaned = normalize(number)
    found = {name for name, pattern in _PATTERNS.items() if pattern.fullmatch(cleaned)}
    if s10_valid(cleaned):
        found.add(S10)
    if russian14_valid(cleaned):
        found.add(RUSSIAN_POST)
    return found


def candidate_sources(number: str, preference: Sequence[str]) -> list[str]:
    """The sources in `preference` (the configured order) worth asking about `number`.

    Names this module knows nothing about (third-party plugins) are kept: their own `handles()`
    decides. An unrecognised number goes to the sources that detect carriers themselves.
    """
    formats = detect(number)
    wanted = (
        frozenset().union(*(_SOURCES_FOR_FORMAT[f] for f in formats)) if formats else _UNRECOGNISED
    )
    return [name for name in preference if name in wanted or name not in _KNOWN_SOURCES]
