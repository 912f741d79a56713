"""The reload contract other components hook into: whole generations of parts, or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import daemon
from monitor.config import ConfigError, load_settings
from monitor.daemon import Part, Running, assemble, assembly, reload, serve
from monitor.systemd import Notifier


class Probe(Part):
    """Records what the daemon does with it."""

    def __init__(self, generation: int, journal: list[tuple[str, int]]) -> None:
        self.generation = generation
        self.journal = journal

    def apply(self) -> None:
        self.journal.append(("apply", self.generation))

    def start(self, running: Running) -> None:
        self.journal.append(("start", self.generation))

    async def aclose(self) -> None:
        self.journal.append(("stop", self.generation))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    return path


async def test_a_rejected_reload_keeps_the_old_parts_and_frees_the_new(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal: list[tuple[str, int]] = []
    generations = iter(range(100))
    broken = False

    def probe(settings: object, origin: str, running: Running) -> Part:
        return Probe(next(generations), journal)

    def maybe_broken(settings: object, origin: str, running: Running) -> Part:
        if broken:
            raise ConfigError("notifier.url: broken on purpose")
        return Part()

    monkeypatch.setattr(assembly, "PARTS", [*assembly.PARTS, probe, maybe_broken])
    settings, _ = load_settings(config)
    running = assemble(settings, str(config))
    for part in running.parts:
        part.start(running)
    assert journal == [("apply", 0), ("start", 0)]

    broken = True
    assert await reload(running, settings, config) is settings
    assert journal[2:] == [("stop", 1)], "the half-built generation is given back, gen 0 runs on"

    broken = False
    await reload(running, settings, config)
    assert journal[3:] == [("stop", 0), ("apply", 2), ("start", 2)]

    await running.aclose()
    assert journal[-1] == ("stop", 2)


async def test_a_crashed_task_ends_serve_with_its_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crashing(Part):
        def start(self, running: Running) -> None:
            running.spawn(self._run(), name="crashing")

        async def _run(self) -> None:
            raise RuntimeError("a bug in a part")

    monkeypatch.setattr(assembly, "PARTS", [*assembly.PARTS, lambda s, o, r: Crashing()])
    settings, _ = load_settings(config)
    with pytest.raises(RuntimeError, match="a bug in a part"):
        await serve(settings, config, notifier=Notifier(None))


@pytest.fixture
def tls_config(tmp_path: Path) -> Path:
    """A configuration whose MQTT CA file exists but holds no certificate."""
    not_a_certificate = tmp_path / "ca.pem"
    not_a_certificate.write_text("hello", encoding="utf-8")
    path = tmp_path / "tls.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        '[mqtt]\nurl = "mqtts://127.0.0.1:8883"\n'
        f'ca_file = "{not_a_certificate}"\n',
        encoding="utf-8",
    )
    return path


async def test_a_reload_whose_new_parts_cannot_even_be_built_keeps_the_old_ones(
    config: Path, tls_config: Path
) -> None:
    """Not only errors the settings models catch: here a CA file that is no certificate."""
    settings, _ = load_settings(config)
    running = assemble(settings, str(config))
    for part in running.parts:
        part.start(running)
    before = list(running.parts)
    try:
        kept = await reload(running, settings, tls_config)
        assert kept is settings and running.parts == before
    finally:
        await running.aclose()


PLUGIN = """
from monitor.plugin import BaseSource


class Hooked(BaseSource):
    name = "hooked"

    async def lookup(self, numbers):
        return {{}}

    def webhook_routes(self):
        return {routes}


SOURCE = Hooked
"""


async def test_a_reload_whose_http_app_cannot_be_built_keeps_the_old_generation(
    tmp_path: Path,
) -> None:
    # The HTTP part builds its app (the sources' webhooks included) when it is built, so a bad
    # route is a rejected reload, not a daemon whose old parts are already gone.
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hooked.py").write_text(PLUGIN.format(routes="[]"), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\nplugin_dirs = ["{plugins}"]\n'
        '[http]\nlisten = "127.0.0.1:0"\n[sources.hooked]\n',
        encoding="utf-8",
    )
    settings, _ = load_settings(config)
    running = assemble(settings, str(config))
    for part in running.parts:
        part.start(running)
    old = list(running.parts)
    http = next(part for part in old if isinstance(part, daemon.Http))
    (plugins / "hooked.py").write_text(PLUGIN.format(routes='["not a route"]'), encoding="utf-8")
    try:
        assert await reload(running, settings, config) is settings
        assert running.parts == old
        assert http.tasks and not http.tasks[0].done()  # the old API still serves
    finally:
        await running.aclose()
