"""What `pip install .` (the README's first command) puts on a user's machine.

The package list in pyproject.toml is written by hand (the plugins folder installs under another
name), so a new subpackage that is not listed works in the editable checkout the tests run in and
is missing from every real installation.
"""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_folder_of_python_code_under_monitor_is_installed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "monitor").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
