"""The `parcel-monitor` command: parse, call, print. The work happens in the modules it calls.

By command group: `orders` (add, update, close, remove, list, show, evidence), `watch` (run,
check, track), `replay` (replay, demo), `notify`, `admin` (plugins, config, service); the parser
and `main` in `parser`, what they share in `common`.
"""

from monitor.cli.common import parse_when
from monitor.cli.parser import build_parser, main

__all__ = ["build_parser", "main", "parse_when"]
