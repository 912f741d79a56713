"""The `replay` source: serves scenario files (SCENARIOS.md) as if a carrier reported them.

What it reports for a number is what the scenario's timeline had shown by the clock's "now": all
checkpoints so far, the status of the newest entry that states one (else of the newest checkpoint),
the latest ETA and the latest destination. Used by `parcel-monitor replay` and `demo`, and usable
in a daemon (`[sources.replay] files = [...]`) to rehearse a configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import Field

from monitor.model import Checkpoint, Destination, EtaWindow, Snapshot, Status
from monitor.plugin import BaseSource, LookupResult, SourceContext, SourceSettings
from monitor.scenario import Scenario, TimelineEntry, load_scenario


class ReplaySettings(SourceSettings):
    files: tuple[Path, ...] = Field((), description="scenario files to serve")


@dataclass(slots=True)
class _NumberStory:
    """The timeline entries that speak about one number, in order."""

    entries: list[TimelineEntry] = field(default_factory=list)


def _stories(scenario: Scenario) -> dict[str, _NumberStory]:
    """Attribute each timeline entry to the number current at that point.

    Entries before any number is known belong to the first number that appears.
    """
    stories: dict[str, _NumberStory] = {}
    current = scenario.order.track
    orphans: list[TimelineEntry] = []
    for entry in scenario.timeline:
        if entry.track:
            current = entry.track
        if current is None:
            orphans.append(entry)
            continue
        story = stories.setdefault(current, _NumberStory())
        story.entries.extend(orphans)
        orphans.clear()
        story.entries.append(entry)
    if current is not None:
        stories.setdefault(current, _NumberStory())
    return stories


class ReplaySource(BaseSource[ReplaySettings]):
    name = "replay"
    Settings = ReplaySettings
    batch_size = 100

    def __init__(self, settings: ReplaySettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        scenarios: list[Scenario] = list(context.extra.get("scenarios", ()))
        scenarios += [load_scenario(path) for path in settings.files]
        self._stories: dict[str, _NumberStory] = {}
        for scenario in scenarios:
            self._stories.update(_stories(scenario))

    def handles(self, number: str) -> bool:
        return number in self._stories

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        now = self.context.clock.now()
        return {number: self._snapshot(number, now) for number in numbers}

    def _snapshot(self, number: str, now: datetime) -> Snapshot:
        story = self._stories.get(number, _NumberStory())
        status = Status.NOT_FOUND
        eta: EtaWindow | None = None
        destination: Destination | None = None
        checkpoints: list[Checkpoint] = []
        for entry in story.entries:
            if entry.at > now:
                break
            checkpoints += [event.checkpoint() for event in entry.events]
            if entry.status is not None:
                status = entry.status
            elif entry.events:
                status = max(checkpoints, key=lambda cp: cp.at).status
            if entry.sets_eta:
                eta = entry.eta
            if entry.destination is not None:
                destination = entry.destination.destination()
        return Snapshot(
            number=number,
            source=self.name,
            status=status,
            fetched_at=self.context.clock.now(),
            checkpoints=tuple(checkpoints),
            eta=eta,
            destination=destination or None,
        )
