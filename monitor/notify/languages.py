"""The languages messages are written in (settings check against it without the texts)."""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "ru"]
LANGUAGES: tuple[Language, ...] = ("en", "ru")
