"""Finding source plugins: entry points and plugin directories, and refusing bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.plugin import PluginError, discover

GOOD = """
from monitor.plugin import BaseSource

class Local(BaseSource):
    name = "{name}"
    batch_size = 5

    async def lookup(self, numbers):
        return {{}}

SOURCE = Local
"""


def write(folder: Path, filename: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / filename
    path.write_text(text)
    return path


def test_builtin_sources_come_through_the_entry_point_group() -> None:
    found = discover()
    assert "replay" in found
    assert found["replay"].origin.startswith("entry point parcel_monitor_plugins.replay")


def test_a_plugin_directory_adds_sources(tmp_path: Path) -> None:
    path = write(tmp_path / "p", "local_post.py", GOOD.format(name="local_post"))
    found = discover([tmp_path / "p"])
    assert found["local_post"].origin == str(path)
    assert found["local_post"].factory.batch_size == 5


def test_a_duplicate_name_names_both_origins(tmp_path: Path) -> None:
    write(tmp_path / "p", "again.py", GOOD.format(name="replay"))
    with pytest.raises(PluginError, match=r"two plugins are called 'replay'.*again\.py"):
        discover([tmp_path / "p"])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("raise ImportError('missing lib')", "failed to import: missing lib"),
        ("x = 1", "does not define SOURCE"),
        ("SOURCE = 42", "expected a class"),
        (GOOD.format(name="bad name"), "must be an identifier"),
        (
            GOOD.format(name="ok").replace("async def lookup", "def lookup"),
            "must be an async method",
        ),
        (GOOD.format(name="ok").replace("batch_size = 5", "batch_size = 0"), "batch_size"),
        (GOOD.format(name="ok") + "\nLocal.Settings = dict\n", "Settings"),
    ],
)
def test_malformed_plugins_are_rejected_with_the_reason(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = write(tmp_path / "p", "broken.py", text)
    with pytest.raises(PluginError) as caught:
        discover([tmp_path / "p"])
    assert str(path) in str(caught.value) and needle in str(caught.value)


def test_a_missing_plugin_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        discover([tmp_path / "nowhere"])


def test_a_plugin_whose_constructor_fails_stops_the_start_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main

    broken = GOOD.format(name="fragile").replace(
        "    async def lookup",
        "    def __init__(self, settings, context):\n"
        "        raise RuntimeError('no token file')\n\n    async def lookup",
    )
    write(tmp_path / "p", "fragile.py", broken)
    config = tmp_path / "config.toml"
    config.write_text(f'plugin_dirs = ["{tmp_path / "p"}"]\n[sources.fragile]\n')
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert "sources.fragile" in err and "no token file" in err and "Traceback" not in err
