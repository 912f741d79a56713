"""An example tracking source: statuses from a JSON file you keep by hand.

Useful for a carrier no API covers: after checking its website, write what you saw into the file,

    {"CX123456789DE": {"status": "in_transit", "text": "Left Leipzig hub",
                       "at": "2024-03-01T09:30:00+01:00"}}

and the daemon treats it like any other source's answer. Install this file as a distribution
(`pip install examples/example-plugin`, entry point `manual`) or drop it into a plugin directory
named in the config (it exposes its class as `SOURCE`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from monitor.model import Checkpoint, LookupFailure, Snapshot, Status
from monitor.plugin import BaseSource, LookupResult, SourceContext, SourceError, SourceSettings


class ManualSettings(SourceSettings):
    path: Path  # [sources.manual] path = "~/parcels.json"


class ManualSource(BaseSource[ManualSettings]):
    name: ClassVar[str] = "manual"
    Settings: ClassVar[type[SourceSettings]] = ManualSettings
    batch_size = 100  # a local file: no limit worth having

    def __init__(self, settings: ManualSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self.path = settings.path.expanduser()

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        try:
            # Reading a file blocks; a thread keeps the daemon's other sources running meanwhile.
            entries = json.loads(await asyncio.to_thread(self.path.read_text, encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read {self.path}: {exc}") from exc
        now = self.context.clock.now()
        # Numbers the file does not mention are left out: the daemon keeps what it knew.
        return {n: self._result(n, entries[n], now) for n in numbers if n in entries}

    def _result(self, number: str, entry: Any, now: datetime) -> Snapshot | LookupFailure:
        try:
            status = Status(entry["status"])
            at = datetime.fromisoformat(entry["at"]) if "at" in entry else None
            checkpoint = Checkpoint(at, status, entry.get("text", "")) if at else None
        except (KeyError, TypeError, ValueError) as exc:
            return LookupFailure(number, f"bad entry in {self.path}: {exc!r}")
        checkpoints = (checkpoint,) if checkpoint else ()
        return Snapshot(number, self.name, status, now, checkpoints)


SOURCE = ManualSource  # what a plugin directory looks for
