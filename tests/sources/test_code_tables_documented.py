"""docs/carrier-codes.md documents exactly the code tables the plugins read, row by row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from parcel_monitor_plugins.cainiao_codes import ACTIONS, MODULE_STATUSES, PREFIXES
from parcel_monitor_plugins.russianpost_codes import PAIRS, TYPES
from parcel_monitor_plugins.seventeentrack_codes import MAIN_STATUSES, STAGES, SUB_STATUSES

from monitor.model import Status
from monitor.sourcekit import Meaning

DOC = Path(__file__).parents[2] / "docs" / "carrier-codes.md"
Row = tuple[str, str, str, str]  # code, status, point, action


def documented(section: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {section} -->\n(.*?)<!-- /{section} -->", text, re.DOTALL)
    assert match, f"no table for {section} in {DOC}"
    lines = match.group(1).strip().splitlines()[2:]  # without the header and its rule
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def cells(meaning: Meaning) -> tuple[str, str, str]:
    point = meaning.point.value if meaning.point else ""
    action = meaning.action.value if meaning.action else ""
    return meaning.status.value, point, action


def test_russian_post_table() -> None:
    expected = {str(t): (row, cells(row.meaning)) for t, row in TYPES.items()}
    expected |= {f"{t}.{a}": (row, cells(row.meaning)) for (t, a), row in PAIRS.items()}
    rows = documented("russianpost")
    assert len(rows) == len(expected)
    for code, name, status, point, action, until in rows:
        row, meaning = expected[code]
        assert (name, (status, point, action)) == (row.name, meaning), code
        days = row.storage_days
        assert until == (f"scan day + {days - 1}" if days else ""), code


def test_17track_table() -> None:
    expected: dict[tuple[str, str], Meaning] = {}
    expected |= {(code, "main status"): m for code, m in MAIN_STATUSES.items()}
    expected |= {(code, "sub-status"): m for code, m in SUB_STATUSES.items()}
    expected |= {(code, "event stage (milestone)"): m for code, m in STAGES.items()}
    rows = documented("seventeentrack")
    assert len(rows) == len(expected) == 9 + 30 + 5  # as many as 17TRACK documents
    for code, kind, status, point, action in rows:
        status_, point_, action_ = cells(expected[(code, kind)])
        if status_ == Status.AT_POST_OFFICE.value:
            point_ = "from the wording"
        assert (status, point, action) == (status_, point_, action_), code


def test_cainiao_table() -> None:
    expected = {f"`{code}`": (name, cells(m)) for code, (name, m) in ACTIONS.items()}
    expected |= {
        f"`status: {code}`": ("parcel status, read only without events", cells(m))
        for code, m in MODULE_STATUSES.items()
    }
    expected |= {
        f"`{prefix}*` (unlisted)": ("a code of that family the list lacks (logged)", cells(m))
        for prefix, m in PREFIXES
    }
    rows = documented("cainiao")
    assert len(rows) == len(expected)
    for code, name, status, point, action in rows:
        assert (name, (status, point, action)) == expected[code], code


@pytest.mark.parametrize("section", ["russianpost", "seventeentrack", "cainiao"])
def test_every_documented_status_is_a_normalized_status(section: str) -> None:
    statuses = {status.value for status in Status}
    column = 2
    assert {row[column] for row in documented(section)} <= statuses
