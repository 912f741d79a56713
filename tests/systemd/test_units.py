"""The unit files: systemd accepts them, they are hardened enough, and `service install` works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import PARCEL_MONITOR, WAIT

from monitor.service import InstallError, plan, unit_text
from monitor.web.settings import HttpSettings

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SYSTEM_UNIT = UNITS / "parcel-monitor.service"
USER_UNIT = UNITS / "user" / "parcel-monitor.service"
MAX_EXPOSURE = 1.2


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed here: the unit files cannot be checked")
    return found


def directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_security_exposure_is_low() -> None:
    done = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", str(SYSTEM_UNIT)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert score, done.stdout + done.stderr
    print(f"systemd-analyze security: exposure {score.group(1)}")
    assert float(score.group(1)) <= MAX_EXPOSURE, done.stdout


def test_system_unit_verifies_at_the_documented_location(tmp_path: Path) -> None:
    # A root where the documented install exists, so that ExecStart= and ExecReload= resolve.
    # The unit is looked up by name inside that root, so it is installed there too.
    for binary in ("opt/parcel-monitor/bin/parcel-monitor", "bin/kill"):
        (tmp_path / binary).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / binary).write_text("#!/bin/sh\n")
        (tmp_path / binary).chmod(0o755)
    installed = tmp_path / "etc" / "systemd" / "system" / SYSTEM_UNIT.name
    installed.parent.mkdir(parents=True)
    shutil.copy(SYSTEM_UNIT, installed)
    done = subprocess.run(
        [
            systemd_analyze(),
            "verify",
            f"--root={tmp_path}",
            "--recursive-errors=no",
            str(installed),
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_user_unit_for_this_install_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "parcel-monitor.service"
    unit.write_text(unit_text(user=True, executable=PARCEL_MONITOR), encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    done = subprocess.run(
        [systemd_analyze(), "verify", "--user", "--recursive-errors=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env={"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


@pytest.mark.parametrize("path", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_units_have_the_service_contract(path: Path) -> None:
    found = directives(path)
    for key, value in {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "UMask": "0077",
        "StateDirectory": "parcel-monitor",
        "ConfigurationDirectory": "parcel-monitor",
        "CacheDirectory": "parcel-monitor",
        "MemoryDenyWriteExecute": "yes",
    }.items():
        assert found.get(key) == [value], key
    assert int(found["WatchdogSec"][0]) > 0
    assert "LoadCredential=" in path.read_text(encoding="utf-8")
    # Room for http.max_connections (at most half the open-files limit) and a memory backstop.
    assert int(found["LimitNOFILE"][0]) >= 2 * HttpSettings().max_connections
    assert found["MemoryMax"] == ["512M"]


def test_system_unit_runs_as_a_dynamic_user() -> None:
    assert directives(SYSTEM_UNIT)["DynamicUser"] == ["yes"]


def test_service_install_user_writes_the_unit_for_this_install(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    dry = subprocess.run(
        [str(PARCEL_MONITOR), "service", "install", "--user", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert f"ExecStart={PARCEL_MONITOR} run\n" in dry.stdout
    target = tmp_path / "systemd" / "user" / "parcel-monitor.service"
    assert f"would write {target}" in dry.stderr
    assert not target.exists()

    done = subprocess.run(
        [str(PARCEL_MONITOR), "service", "install", "--user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == dry.stdout
    assert "systemctl --user enable --now parcel-monitor" in done.stderr


def test_system_install_refuses_what_the_service_cannot_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "parcel-monitor"
    with pytest.raises(InstallError, match="not an executable"):
        plan(user=False, executable=script)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    # ProtectHome=yes: a venv whose Python lives in a home directory cannot start.
    monkeypatch.setattr(sys, "executable", "/home/someone/.pyenv/bin/python3")
    with pytest.raises(InstallError, match="home directory"):
        plan(user=False, executable=script)
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")
    # PrivateTmp=yes: the service's /tmp is empty, so a program under /tmp never starts.
    assert script.resolve().is_relative_to("/tmp")
    with pytest.raises(InstallError, match=r"under /tmp.*PrivateTmp=yes"):
        plan(user=False, executable=script)
    installed = Path("/usr/bin/true")  # stands in for /opt/parcel-monitor/bin/parcel-monitor
    ready = plan(user=False, executable=installed)
    assert ready.target == Path("/etc/systemd/system/parcel-monitor.service")
    assert f"ExecStart={installed} run\n" in ready.text
