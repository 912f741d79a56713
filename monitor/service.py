"""`parcel-monitor service install`: the packaged unit file, pointed at this installation.

The units in `systemd/` (packaged as `monitor.units`) name the documented install location
(`/opt/parcel-monitor`, or `~/.local/opt/parcel-monitor` for a user). Installing rewrites that one
`ExecStart=` line to the `parcel-monitor` script of the environment running this command, writes
the unit where systemd looks for it, and says what to run next. It never calls systemctl itself:
enabling a service is the administrator's decision, and this command may run where none runs.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

UNIT_NAME = "parcel-monitor.service"
_EXEC_START = re.compile(r"^ExecStart=\S+ run$", re.MULTILINE)


class InstallError(Exception):
    """The unit cannot be written; the message says why."""


@dataclass(frozen=True, slots=True)
class Plan:
    target: Path
    text: str
    next_steps: tuple[str, ...]


def script_path() -> Path:
    """The `parcel-monitor` console script of the environment running this code."""
    return Path(sysconfig.get_path("scripts")) / "parcel-monitor"


def unit_text(*, user: bool, executable: Path) -> str:
    packaged = resources.files("monitor.units")
    template = (packaged / "user" / UNIT_NAME) if user else (packaged / UNIT_NAME)
    text, count = _EXEC_START.subn(f"ExecStart={executable} run", template.read_text("utf-8"))
    if count != 1:
        raise InstallError(f"the packaged unit {template} has no single `ExecStart=... run` line")
    return text


def unit_dir(*, user: bool) -> Path:
    if not user:
        return Path("/etc/systemd/system")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user"


def plan(*, user: bool, executable: Path | None = None) -> Plan:
    executable = executable or script_path()
    if not os.access(executable, os.X_OK):
        raise InstallError(
            f"{executable} is not an executable parcel-monitor script; run this "
            "command with the parcel-monitor of the installation to use"
        )
    for needed in (executable, Path(sys.executable)):
        if not user and _under_home(needed):
            # ProtectHome=yes hides homes from the service, and a DynamicUser could not read them.
            raise InstallError(
                f"{needed.resolve()} is inside a home directory, which the system "
                "service cannot see; install into /opt/parcel-monitor with a system "
                "Python (docs/systemd.md), or use --user"
            )
    text = unit_text(user=user, executable=executable)
    if re.search(r"^PrivateTmp=(yes|true|on|1)$", text, re.MULTILINE):
        for needed in (executable, Path(sys.executable)):
            if _under_tmp(needed):
                # The service gets an empty /tmp of its own: the program would not be there.
                raise InstallError(
                    f"{needed.resolve()} is under {_under_tmp(needed)}, which the service "
                    "cannot see (the unit sets PrivateTmp=yes, so it gets an empty one of its "
                    "own); install into /opt/parcel-monitor (docs/systemd.md)"
                )
    systemctl = "systemctl --user" if user else "systemctl"
    config = "~/.config/parcel-monitor/config.toml" if user else "/etc/parcel-monitor/config.toml"
    return Plan(
        target=unit_dir(user=user) / UNIT_NAME,
        text=text,
        next_steps=(
            f"write your configuration to {config} (parcel-monitor config check validates it)",
            f"{systemctl} daemon-reload",
            f"{systemctl} enable --now parcel-monitor",
        ),
    )


def _under_home(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(home) for home in ("/home", "/root", "/run/user"))


def _under_tmp(path: Path) -> str | None:
    resolved = path.resolve()
    return next((tmp for tmp in ("/tmp", "/var/tmp") if resolved.is_relative_to(tmp)), None)


def install(the_plan: Plan) -> None:
    try:
        the_plan.target.parent.mkdir(parents=True, exist_ok=True)
        the_plan.target.write_text(the_plan.text, encoding="utf-8")
        # A unit holds no secret, and systemd (and the admin) must be able to read it.
        the_plan.target.chmod(0o644)
    except OSError as exc:
        raise InstallError(f"cannot write {the_plan.target}: {exc.strerror or exc}") from None
