"""The layers point one way: rules produce facts, presentation has the words, config loads only
settings. Checked on the source (imports) and on a fresh interpreter (what an import loads)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from monitor.rules.engine import RULES
from monitor.rules.ids import OUTCOME_RULES, RULE_IDS, UNHELD_RULES

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = sorted(
            name
            for name in imported_modules(path)
            if any(name == f or name.startswith(f + ".") for f in forbidden)
        )
        if bad:
            found[str(path.relative_to(PACKAGE.parent))] = bad
    return found


def test_rules_import_no_presentation_nor_outer_parts() -> None:
    forbidden = ("monitor.notify", "monitor.web", "monitor.mqtt", "monitor.cli")
    assert offenders("rules", forbidden) == {}


def test_notify_does_not_import_the_config() -> None:
    assert offenders("notify", ("monitor.config",)) == {}


def test_importing_the_config_loads_no_store_bus_engine_nor_texts() -> None:
    code = (
        "import json, sys, monitor.config; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('monitor'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "monitor.config" in loaded
    heavy = {"monitor.store", "monitor.bus", "monitor.rules.engine", "monitor.notify.texts"}
    assert loaded & heavy == set()


def test_the_engine_runs_every_rule_id_in_the_order_of_ids() -> None:
    assert tuple(RULES) == RULE_IDS
    assert set(RULE_IDS) >= OUTCOME_RULES | UNHELD_RULES
