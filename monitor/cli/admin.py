"""Administration: the plugins found, the effective configuration, the systemd unit."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from monitor.cli.common import settings_of
from monitor.config import effective, load_settings
from monitor.plugin import discover
from monitor.sources import configured_sections


def cmd_plugins(args: argparse.Namespace) -> int:
    settings, _ = settings_of(args)
    found = discover(settings.plugin_dirs)
    if not found:
        print("no source plugins found")
    on = configured_sections(settings, found)
    for name, info in sorted(found.items()):
        if name in settings.sources:
            state = "configured"
        else:
            state = "on by default" if name in on else "not configured"
        print(f"{name:16} {state:15} {info.origin}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from monitor.daemon import validate

    settings, path = load_settings(args.config)
    checked = asyncio.run(validate(settings, str(path) if path else "configuration"))
    print(f"# configuration OK ({path or 'no file: defaults and environment'})", file=sys.stderr)
    print(json.dumps(effective(settings, dict(checked)), ensure_ascii=False, indent=2))
    return 0


def cmd_service_install(args: argparse.Namespace) -> int:
    from monitor.service import InstallError, install, plan

    try:
        the_plan = plan(user=args.user)
        if args.dry_run:
            print(f"# would write {the_plan.target}:", file=sys.stderr)
            print(the_plan.text, end="")
        else:
            install(the_plan)
            print(f"wrote {the_plan.target}")
    except InstallError as exc:
        print(f"parcel-monitor: {exc}", file=sys.stderr)
        return 1
    print("next:", *(f"  {step}" for step in the_plan.next_steps), sep="\n", file=sys.stderr)
    return 0
