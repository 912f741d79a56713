"""Logging with structlog: readable on a terminal, one JSON object per line otherwise.

Logs go to stderr so that stdout stays clean for `--json` output. Event names are stable dotted
names, `monitor.<part>.<what>` (`monitor.tracking.source_failed`); values are key/value fields.
Secrets are never passed to a logger.

Under systemd, stderr is a journal stream (`$JOURNAL_STREAM` names it): each line then starts with
a `<N>` syslog priority, which journald strips and stores (SyslogLevelPrefix= defaults to yes), so
`journalctl -p err` finds the errors. JSON is single-line, so every line carries its prefix.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, cast

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# structlog level names -> syslog priorities (sd-daemon(3)).
_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}


def on_journal(stream: Any = None) -> bool:
    """Whether `stream` (stderr by default) is the journal stream systemd connected us to."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = expected.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


class PriorityPrefix:
    """Wraps a renderer: `<3>{"event": ...}` for an error, `<6>` for info, and so on."""

    def __init__(self, renderer: structlog.typing.Processor) -> None:
        self._renderer = renderer

    def __call__(self, logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
        priority = _PRIORITIES.get(str(event_dict.get("level", "info")), 6)
        # Both renderers used here return text (JSONRenderer with the default json.dumps).
        return f"<{priority}>" + cast(str, self._renderer(logger, name, event_dict))


def configure(level: str = "info", fmt: Literal["auto", "console", "json"] = "auto") -> None:
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    if on_journal():
        renderer = PriorityPrefix(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        # Looked up at each use, not at configure time: stderr may be replaced (tests, reload).
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
