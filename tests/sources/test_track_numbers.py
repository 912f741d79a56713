"""Track-number formats and check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.numbers import (
    candidate_sources,
    detect,
    russian14_valid,
    s10_check_digit,
    s10_valid,
)

ALL = ["seventeentrack", "russianpost", "cainiao"]


def test_s10() -> None:
    assert s10_valid("RB123456785CN")
    assert s10_valid(" rb 1234 5678 5cn ")
    assert not s10_valid("RB123456784CN")  # wrong check digit
    assert not s10_valid("RB12345678CN")
    assert not s10_valid("R1123456785CN")
    assert s10_check_digit("00000000") == 5  # remainder 11 is written as 5
    assert s10_check_digit("00000001") == 4


def test_russian14() -> None:
    assert russian14_valid("63010245873122")
    assert russian14_valid("630102 45873122")
    assert not russian14_valid("63010245873123")
    assert not russian14_valid("6301024587312")
    assert not russian14_valid(
        "６３０１０２４５８７３１２２"
    )  # full-width digits are not digits here


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
    st.integers(0, 10**8 - 1),
)
def test_every_serial_gets_a_valid_s10_number(letters: str, serial_number: int) -> None:
    serial = f"{serial_number:08d}"
    number = f"{letters[:2]}{serial}{s10_check_digit(serial)}{letters[2:]}"
    assert s10_valid(number)
    assert "s10" in detect(number)


@given(st.integers(0, 10**13 - 1))
def test_exactly_one_russian_check_digit_fits(prefix: int) -> None:
    head = f"{prefix:013d}"
    assert sum(russian14_valid(f"{head}{d}") for d in range(10)) == 1


@pytest.mark.parametrize(
    ("number", "formats"),
    [
        ("RB123456785CN", {"s10"}),
        ("63010245873122", {"russian_post"}),
        ("LP00771234560042", {"cainiao"}),
        ("AE123456789", {"cainiao"}),
        ("XY1234567890Y", {"cainiao"}),
        ("YT1234567890123456", {"yunexpress"}),
        ("4PX30001234", {"4px"}),
        ("FPXE12345678", {"4px"}),
        ("YE123456789CN", {"yanwen"}),  # wrong S10 check digit: only the Yanwen shape
        ("YE123456785CN", {"yanwen", "s10"}),
        ("1Z999AA10123456784", set()),
        ("", set()),
    ],
)
def test_detect(number: str, formats: set[str]) -> None:
    assert detect(number) == formats


def test_candidate_sources_follow_the_preference_order() -> None:
    assert candidate_sources("RB123456785CN", ALL) == ALL
    assert candidate_sources("RB123456785CN", ["cainiao", "russianpost"]) == [
        "cainiao",
        "russianpost",
    ]
    assert candidate_sources("63010245873122", ALL) == ["seventeentrack", "russianpost"]
    assert candidate_sources("LP00771234560042", ALL) == ["seventeentrack", "cainiao"]
    assert candidate_sources("YT1234567890123456", ALL) == ["seventeentrack"]


def test_candidate_sources_for_unknown_formats_and_plugins() -> None:
    assert candidate_sources("1Z999AA10123456784", [*ALL, "myplugin"]) == [
        "seventeentrack",
        "myplugin",  # a third-party source decides through its own handles()
    ]
    assert candidate_sources("LP00771234560042", ["russianpost"]) == []
