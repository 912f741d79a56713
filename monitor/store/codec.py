"""Turning model values into column values and back, shared by the table modules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from monitor.model import Action, Checkpoint, Destination, EtaWindow, Point, Status, Stay


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """SQLite caps the number of ? parameters in one statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def checkpoint_dict(cp: Checkpoint) -> dict[str, str]:
    data = {
        "at": cp.at.isoformat(),
        "status": cp.status.value,
        "text": cp.text,
        "location": cp.location,
        "code": cp.code,
    }
    # The last-mile keys only where the carrier said them: older rows stay as they were.
    if cp.point is not None:
        data["point"] = cp.point.value
    if cp.storage_until is not None:
        data["storage_until"] = cp.storage_until.isoformat()
    if cp.action is not None:
        data["action"] = cp.action.value
    if cp.postcode:
        data["postcode"] = cp.postcode
    return data


def checkpoint_from_dict(raw: dict[str, str]) -> Checkpoint:
    return Checkpoint(
        at=datetime.fromisoformat(raw["at"]),
        status=Status(raw["status"]),
        text=raw["text"],
        location=raw["location"],
        code=raw["code"],
        point=Point(raw["point"]) if raw.get("point") else None,
        storage_until=day(raw.get("storage_until")),
        action=Action(raw["action"]) if raw.get("action") else None,
        postcode=raw.get("postcode", ""),
    )


def checkpoint_json(cp: Checkpoint | None) -> str | None:
    if cp is None:
        return None
    return json.dumps(checkpoint_dict(cp), ensure_ascii=False)


def checkpoint_from_json(text: str | None) -> Checkpoint | None:
    return checkpoint_from_dict(json.loads(text)) if text else None


def checkpoints_json(cps: Sequence[Checkpoint]) -> str | None:
    return json.dumps([checkpoint_dict(cp) for cp in cps], ensure_ascii=False) if cps else None


def checkpoints_from_json(text: str | None) -> tuple[Checkpoint, ...]:
    return tuple(checkpoint_from_dict(raw) for raw in json.loads(text)) if text else ()


# A number's stored checkpoints (the `histories` table) are one text: a JSON array per checkpoint,
# joined by commas without the enclosing brackets, so that new ones are appended as text without
# decoding what is there. An array holds [at, status, text, location, code, source], then
# [point, storage_until, action, postcode] only where the carrier said one of them (most
# checkpoints say none). Migration 4 -> 5 in `db.py` writes the same layout in SQL.


def history_entries(source: str, checkpoints: Sequence[Checkpoint]) -> list[tuple[str | None, ...]]:
    # The enums are `StrEnum`s: JSON writes them as their values.
    return [
        (cp.at.isoformat(), cp.status, cp.text, cp.location, cp.code, source)
        if cp.point is None and cp.storage_until is None and cp.action is None and not cp.postcode
        else (
            cp.at.isoformat(),
            cp.status,
            cp.text,
            cp.location,
            cp.code,
            source,
            cp.point,
            iso(cp.storage_until),
            cp.action,
            cp.postcode,
        )
        for cp in checkpoints
    ]


def history_text(entries: Sequence[Sequence[Any]]) -> str:
    return json.dumps(entries, ensure_ascii=False, separators=(",", ":"))[1:-1]


def history_parse(text: str) -> list[list[Any]]:
    """The arrays of a stored history, in the order they were added."""
    entries: list[list[Any]] = json.loads(f"[{text}]")
    return entries


def entry_time(entry: Sequence[Any]) -> datetime:
    return datetime.fromisoformat(entry[0])


def history_checkpoint(entry: list[Any]) -> Checkpoint:
    at, status, text, location, code = entry[:5]
    if len(entry) == 6:
        return Checkpoint(datetime.fromisoformat(at), Status(status), text, location, code)
    point, until, action, postcode = entry[6:]
    return Checkpoint(
        datetime.fromisoformat(at),
        Status(status),
        text,
        location,
        code,
        point=Point(point) if point else None,
        storage_until=day(until),
        action=Action(action) if action else None,
        postcode=postcode,
    )


def stay_json(stay: Stay | None) -> str | None:
    if stay is None:
        return None
    return json.dumps(
        {
            "since": stay.since.isoformat(),
            "point": stay.point.value,
            "storage_until": iso(stay.storage_until),
            "postcode": stay.postcode,
            "location": stay.location,
        },
        ensure_ascii=False,
    )


def stay_from_json(text: str | None) -> Stay | None:
    if not text:
        return None
    raw = json.loads(text)
    return Stay(
        since=datetime.fromisoformat(raw["since"]),
        point=Point(raw["point"]),
        storage_until=day(raw["storage_until"]),
        postcode=raw["postcode"],
        location=raw["location"],
    )


def destination(country: str | None, postcode: str | None) -> Destination | None:
    if not country and not postcode:
        return None
    return Destination(country=country or "", postcode=postcode or "")


def eta(start: str | None, end: str | None) -> EtaWindow | None:
    if start is None or end is None:
        return None
    return EtaWindow(date.fromisoformat(start), date.fromisoformat(end))
