"""Sources are found the way the daemon finds them: entry points and plugin directories.

Installing the example distribution into a fresh venv would take seconds per run, so the entry
point test builds the `.dist-info` folder pip would write (METADATA plus `entry_points.txt`,
generated from the example's real pyproject.toml) in a temporary directory on sys.path;
importlib.metadata then finds it exactly like an installed distribution. `discover()` is pointed at
that one distribution, so whatever else is installed in the test environment cannot interfere.
"""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from parcel_monitor_plugins.cainiao import CainiaoSource
from parcel_monitor_plugins.russianpost import RussianPostSource
from parcel_monitor_plugins.seventeentrack import SeventeenTrackSource

import monitor.plugin
from monitor.model import LookupFailure, Snapshot, Status
from monitor.plugin import ENTRY_POINT_GROUP, SourceContext, SourceError, discover

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples" / "example-plugin"
OURS = {
    "seventeentrack": SeventeenTrackSource,
    "russianpost": RussianPostSource,
    "cainiao": CainiaoSource,
}


def entry_points_txt(pyproject: Path) -> str:
    """The `entry_points.txt` a build would write for the project's entry points."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = []
    for group, points in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in points.items()]
    return "\n".join(lines) + "\n"


def only_entry_points(monkeypatch: pytest.MonkeyPatch, points: Any) -> None:
    monkeypatch.setattr(monitor.plugin, "entry_points", lambda group: points.select(group=group))


def test_example_plugin_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_info = tmp_path / "parcel_monitor_example_plugin-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: parcel-monitor-example-plugin\nVersion: 0.1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(entry_points_txt(EXAMPLE / "pyproject.toml"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))  # where an install would have put the module

    dist = importlib.metadata.distribution("parcel-monitor-example-plugin")
    only_entry_points(monkeypatch, dist.entry_points)
    found = discover()

    assert list(found) == ["manual"]
    assert found["manual"].factory.__module__ == "parcel_monitor_example"
    assert "parcel-monitor-example-plugin" in found["manual"].origin


def test_example_plugin_from_a_plugin_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    only_entry_points(monkeypatch, importlib.metadata.EntryPoints(()))
    found = discover([EXAMPLE])
    assert list(found) == ["manual"]
    assert found["manual"].origin.endswith("parcel_monitor_example.py")


async def test_example_plugin_looks_numbers_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: SourceContext
) -> None:
    only_entry_points(monkeypatch, importlib.metadata.EntryPoints(()))
    factory = discover([EXAMPLE])["manual"].factory
    statuses = tmp_path / "parcels.json"
    statuses.write_text(
        json.dumps(
            {
                "CX123456789DE": {"status": "in_transit", "at": "2024-03-01T09:30:00+01:00"},
                "BAD1": {"status": "teleported"},
            }
        )
    )
    source = factory(factory.Settings(path=statuses), context)

    results = await source.lookup(["CX123456789DE", "BAD1", "UNLISTED"])

    parcel = results["CX123456789DE"]
    assert isinstance(parcel, Snapshot)
    assert parcel.status is Status.IN_TRANSIT
    assert len(parcel.checkpoints) == 1
    assert isinstance(results["BAD1"], LookupFailure)
    assert "UNLISTED" not in results
    statuses.write_text("{broken")
    with pytest.raises(SourceError, match="cannot read"):
        await source.lookup(["CX123456789DE"])


def test_built_in_sources_are_declared_as_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only our three: other built-ins (replay) are written elsewhere and tested there.
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    points = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, declared[ENTRY_POINT_GROUP][name], ENTRY_POINT_GROUP)
        for name in OURS
    )
    only_entry_points(monkeypatch, points)
    found = discover()
    assert {name: info.factory for name, info in found.items()} == OURS
