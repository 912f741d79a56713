"""Issue 10, as a new user meets it: real `parcel-monitor` subprocesses, real files, real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.mqtt.broker import Mosquitto, unique_base

SCENARIO = REPO / "monitor" / "scenarios" / "07-no-movement.json"


def cli(
    *args: str, config: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`parcel-monitor ARGS` in a child process with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *(["--config", str(config)] if config else []), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=REPO,
    )


def test_check_works_with_mqtt_configured(tmp_path: Path) -> None:
    # A broker of the test's own: what the bridge retains must not stay on the machine's.
    broker = Mosquitto(tmp_path)
    broker.start()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[sources.replay]\nfiles = ["{SCENARIO}"]\n'
        f'[mqtt]\nurl = "{broker.url}"\n'
        f'base_topic = "{unique_base()}"\ndiscovery = false\n'
    )
    added = cli(
        "add",
        "5004417700000107",
        "--ordered",
        "2020-09-01",
        "--track",
        "RA998877665CN",
        config=config,
    )
    assert added.returncode == 0, added.stderr
    done = cli("check", "--json", config=config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "no running event loop" not in done.stderr
    broker.stop()
    # `add` looked the new number up itself (no daemon runs), so `check` has nothing new.
    assert "stalled" in added.stderr + done.stdout, (added.stderr, done.stdout)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[notify]\nurls = ["ntfys:/ntfy.sh/x"]\n', "notify.urls"),
        ('[notify]\nurls = ["xyz://host/"]\n', "notify.urls"),
        ('[mqtt]\nurl = "mqtt://127.0.0.1:1"\npassword_file = "/nonexistent/pw"\n', "mqtt"),
        ('[http]\ntoken_file = "/nonexistent/token"\n', "http.token_file"),
        ("[sources.cainiao]\nmystery = 1\n", "sources.cainiao.mystery"),
    ],
)
def test_config_check_refuses_what_run_refuses(tmp_path: Path, toml: str, named: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    run = cli("run", config=config, timeout=30)
    assert run.returncode == 78 and named in run.stderr, run.stderr
    check = cli("config", "check", config=config)
    assert check.returncode != 0 and named in check.stderr, check.stderr
    assert "configuration OK" not in check.stderr


@pytest.mark.parametrize(
    ("toml", "key", "minimum"),
    [
        (
            'poll_every = "0s"\n[sources.cainiao]\npoll_every = "0s"\n',
            "sources.cainiao.poll_every",
            "1m",
        ),
        ('[sources.cainiao]\npoll_every = "10s"\n', "sources.cainiao.poll_every", "1m"),
        ('[sources.cainiao]\ntimeout = "0s"\n', "sources.cainiao.timeout", "more than 0s"),
        ('tick_every = "0s"\n', "tick_every", "1s"),
        ('sync_every = "0s"\n', "sync_every", "1s"),
        ('[rules]\nstalled_after = "0s"\n', "rules.stalled_after", "1h"),
        ('[rules]\nprotection_critical = "5m"\n', "rules.protection_critical", "1h"),
        ('[notify]\nretry_first = "0s"\n', "notify.retry_first", "more than 0s"),
        ("[mqtt]\nreconnect_min = -5\n", "mqtt.reconnect_min", "more than 0s"),
    ],
)
def test_every_duration_has_a_minimum_named_in_the_error(
    tmp_path: Path, toml: str, key: str, minimum: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml.replace('poll_every = "0s"\n[sources', "[sources"))
    done = cli("config", "check", config=config)
    assert done.returncode != 0
    line = next(line for line in done.stderr.splitlines() if f": {key}:" in line)
    assert "too short" in line and minimum in line


def test_an_unknown_rule_id_in_rules_disabled_is_refused_naming_the_known_ones(
    tmp_path: Path,
) -> None:
    from monitor.rules.engine import RULES

    config = tmp_path / "config.toml"
    config.write_text('[rules]\ndisabled = ["stalled", "delivred"]\n')
    done = cli("config", "check", config=config)
    assert done.returncode != 0
    assert "rules.disabled" in done.stderr and "'delivred'" in done.stderr
    assert all(rule in done.stderr for rule in RULES)
    config.write_text('[rules]\ndisabled = ["stalled"]\n')
    assert cli("config", "check", config=config).returncode == 0


def test_a_second_daemon_on_the_same_state_directory_exits_naming_the_first(
    tmp_path: Path, isolated_env: Path
) -> None:
    from tests.test_daemon import start, stop, wait_for_log

    config = tmp_path / "config.toml"
    config.write_text(f'[sources.replay]\nfiles = ["{SCENARIO}"]\npoll_every = "1h"\n')
    first = start(config)
    try:
        wait_for_log(first, "monitor.daemon.started")
        second = cli("run", config=config, timeout=30)
        assert second.returncode == 75
        assert f"process {first.pid}" in second.stderr and str(isolated_env) in second.stderr
        # Refused before anything started: no source, broker, sender or HTTP server of its own.
        assert "monitor.daemon.started" not in second.stderr and "Traceback" not in second.stderr
        # The CLI keeps working beside the running daemon.
        listed = cli("list", "--json", config=config)
        assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
        added = cli("add", "A-1", "--ordered", "2026-01-05", config=config)
        assert added.returncode == 0, added.stderr
    finally:
        stop(first)
    # Once the first has stopped, the lock is free again.
    again = start(config)
    try:
        wait_for_log(again, "monitor.daemon.started")
    finally:
        stop(again)


SECRET = "AAH-my-secret-token"


def everything_said(config: Path, *, daemon: bool) -> str:
    """All output of `config check`, `check`, `list` and, when the config is usable, of
    `notify test` and a daemon's start and stop; else of `run` refusing it."""
    from tests.test_daemon import start, stop, wait_for_log

    said = []
    for args in (("config", "check"), ("check",), ("list",)):
        done = cli(*args, config=config)
        said += [done.stdout, done.stderr]
    if daemon:
        # A real (failing) delivery: its reason and the channel's name are printed.
        tested = cli("notify", "test", config=config)
        assert tested.returncode == 1 and "FAILED" in tested.stdout, tested.stdout
        said += [tested.stdout, tested.stderr]
        proc = start(config)
        try:
            said.append(repr(wait_for_log(proc, "monitor.daemon.started")))
        finally:
            said.append(repr(stop(proc)))
            assert proc.stdout is not None
            said.append(proc.stdout.read())
    else:
        done = cli("run", config=config)
        assert done.returncode == 78, done.stderr
        said += [done.stdout, done.stderr]
    return "\n".join(said)


@pytest.mark.parametrize(
    ("toml", "usable"),
    [
        # A URL Apprise rejects, which it then repeats in its own reason.
        (f'[notify]\nurls = ["push=tgram:/123456789:{SECRET}/987654321"]\n', False),
        (f'[notify]\nurls = ["tgram:/123456789:{SECRET}/987654321"]\n', False),
        # Custom headers, which Apprise prints even in its private form.
        (
            f'[notify]\nurls = ["json://127.0.0.1:9/?+X-Token={SECRET}", '
            f'"json://127.0.0.1:9/a?+Authorization=Bearer%20{SECRET}&-key={SECRET}"]\n',
            True,
        ),
        # A typo'd key echoed its value.
        (f'[mqtt]\nurl = "mqtt://127.0.0.1:1"\npasword = "{SECRET}"\n', False),
        (f'[sources.russianpost]\nlogin = "me"\npassword = "x"\npasswrod = "{SECRET}"\n', False),
    ],
)
def test_no_secret_in_any_output(tmp_path: Path, toml: str, usable: bool) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    said = everything_said(config, daemon=usable)
    assert SECRET not in said and "secret-token" not in said
    assert ("configuration error" in said) != usable


def test_with_no_sources_section_cainiao_is_on_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARCEL_MONITOR_DEFAULT_SOURCES")  # the tests' guard against the internet
    config = tmp_path / "config.toml"
    config.write_text("[log]\nlevel = 'info'\n")
    checked = cli("config", "check", config=config)
    assert checked.returncode == 0, checked.stderr
    assert '"cainiao"' in checked.stdout
    plugins = cli("plugins", config=config)
    assert "cainiao          on by default" in plugins.stdout
    # An AliExpress number is followed; a Russian Post one is not, and `list` says so.
    assert (
        cli(
            "add", "1", "--ordered", "2026-11-01", "--track", "LP00700000000001", config=config
        ).returncode
        == 0
    )
    assert (
        cli(
            "add", "2", "--ordered", "2026-11-01", "--track", "80097612345670", config=config
        ).returncode
        == 0
    )
    listed = cli("list", config=config).stdout
    assert "not checked yet" in listed
    assert "order 2: nothing follows 80097612345670" in listed
    assert "order 1:" not in listed


def test_a_number_nobody_follows_is_said_plainly_everywhere(tmp_path: Path) -> None:
    from tests.test_daemon import start, stop, wait_for_log

    config = tmp_path / "config.toml"
    config.write_text("[log]\nlevel = 'info'\n")  # no sources, and (in tests) no default one
    added = cli("add", "7", "--ordered", "2026-11-01", "--track", "RA123456785CN", config=config)
    assert added.returncode == 0, added.stderr
    said = "nothing follows RA123456785CN: no tracking source is turned on"

    listed = cli("list", config=config).stdout
    assert "no source follows it" in listed and said in listed
    assert said in cli("show", "7", config=config).stdout
    assert json.loads(cli("list", "--json", config=config).stdout)[0]["sources"] == []
    checked = cli("check", config=config)
    assert checked.returncode == 0 and f"order 7: {said}" in checked.stdout
    as_json = [
        json.loads(line) for line in cli("check", "--json", config=config).stdout.splitlines()
    ]
    assert {"kind": "unfollowed", "order_id": "7", "number": "RA123456785CN"}.items() <= as_json[
        0
    ].items()
    assert "cainiao" in as_json[0]["could_follow"]

    proc = start(config)
    try:
        seen = wait_for_log(proc, "monitor.daemon.started")
        events = {record["event"]: record for record in seen}
        assert "monitor.sources.none_enabled" in events
        assert events["monitor.sources.number_not_followed"]["order"] == "7"
        assert "cainiao" in events["monitor.sources.number_not_followed"]["could_follow"]
        # An order added while the daemon runs is looked at when the daemon picks it up.
        assert (
            cli(
                "add", "8", "--ordered", "2026-11-01", "--track", "LP00700000000001", config=config
            ).returncode
            == 0
        )
        later = wait_for_log(proc, "monitor.sources.number_not_followed")
        assert later[-1]["order"] == "8" and later[-1]["number"] == "LP00700000000001"
    finally:
        stop(proc)
