"""The mail-reader plugin contract, and how readers are found.

A mail reader looks at one parsed `Mail` and says what it found: orders with their dates and
track numbers. It never writes anything; the intake does. A reader is a class with

- `name` (class attribute): an identifier, used in logs and in `[mail] readers`;
- `priority` (class attribute, default 0): readers are asked lowest first, and the first that
  `reads` a mail is the only one to read it (the generic reader comes last, at 100);
- `reads(mail) -> bool`: whether this reader is the one for this mail (usually: the sender);
- `read(mail) -> Sequence[Finding]`: what the mail says; empty for a mail with nothing in it
  (a newsletter). Raise `UnreadableMail` (or anything) for a mail it should understand but
  cannot: the intake skips that mail and logs its Message-ID.

Readers are found like sources (`monitor.plugin`): the entry-point group `parcel_monitor.mail`
(the built-ins register there too) and the plugin directories, where a file exposes its reader
class as `MAIL_READER`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from monitor.mail.message import Mail
from monitor.plugin import PluginError, PluginInfo, discover_plugins

ENTRY_POINT_GROUP = "parcel_monitor.mail"


class UnreadableMail(Exception):
    """A mail this reader should understand but cannot (a changed template)."""


@dataclass(frozen=True, slots=True)
class FoundTrack:
    number: str
    carrier: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One order as a mail tells it. Every field but `shop` may be unknown.

    `order_id` None: the mail names no order, only a track number (the intake then joins the
    order that already has the number, or derives an id from the shop and the number).
    """

    shop: str
    order_id: str | None = None
    ordered_at: datetime | None = None
    title: str = ""
    tracks: tuple[FoundTrack, ...] = ()
    protection_until: datetime | None = None
    promised_by: date | None = None

    def summary(self) -> dict[str, Any]:
        """What was extracted, for the mail record (never the mail's text)."""
        data: dict[str, Any] = {"shop": self.shop}
        if self.order_id:
            data["order_id"] = self.order_id
        if self.ordered_at:
            data["ordered_at"] = self.ordered_at.isoformat()
        if self.title:
            data["title"] = self.title
        if self.tracks:
            data["tracks"] = [
                {"number": t.number, "carrier": t.carrier} if t.carrier else {"number": t.number}
                for t in self.tracks
            ]
        if self.protection_until:
            data["protection_until"] = self.protection_until.isoformat()
        if self.promised_by:
            data["promised_by"] = self.promised_by.isoformat()
        return data


class MailReader:
    """Defaults for the optional parts of the contract."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 0

    def reads(self, mail: Mail) -> bool:
        return False

    def read(self, mail: Mail) -> Sequence[Finding]:
        raise NotImplementedError


def _validate(factory: Any, expected_name: str | None, origin: str) -> PluginInfo:
    where = f"mail reader at {origin}"
    if not inspect.isclass(factory):
        raise PluginError(f"{where}: expected a class, got {type(factory).__name__}")
    name = getattr(factory, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"{where}: class attribute `name` must be an identifier, got {name!r}")
    if expected_name is not None and name != expected_name:
        raise PluginError(
            f"{where}: entry point is called {expected_name!r} but the class says {name!r}"
        )
    for method in ("reads", "read"):
        if not callable(getattr(factory, method, None)):
            raise PluginError(f"{where}: `{method}` must be a method")
        if inspect.iscoroutinefunction(getattr(factory, method)):
            raise PluginError(f"{where}: `{method}` must be a plain (not async) method")
    if not isinstance(getattr(factory, "priority", 0), int):
        raise PluginError(f"{where}: `priority` must be an integer")
    return PluginInfo(name=name, factory=factory, origin=origin)


def discover_readers(plugin_dirs: Sequence[Path] = ()) -> dict[str, PluginInfo]:
    return discover_plugins(
        plugin_dirs, group=ENTRY_POINT_GROUP, attribute="MAIL_READER", validate=_validate
    )


def load_readers(plugin_dirs: Sequence[Path] = (), only: Sequence[str] = ()) -> list[MailReader]:
    """One instance of each reader (or of those named in `only`), in the order they are asked."""
    found = discover_readers(plugin_dirs)
    unknown = [name for name in only if name not in found]
    if unknown:
        raise PluginError(
            f"mail.readers: no mail reader called {', '.join(map(repr, unknown))}; "
            f"installed: {', '.join(sorted(found)) or 'none'}"
        )
    readers = []
    for name, info in found.items():
        if only and name not in only:
            continue
        try:
            readers.append(info.factory())
        except Exception as exc:
            raise PluginError(
                f"mail reader {name!r} ({info.origin}) failed to start: {exc}"
            ) from exc
    return sorted(readers, key=lambda r: (r.priority, r.name))


def slug(text: str) -> str:
    """A shop's name as a part of an order id: `Ozon.ru` -> `ozon-ru`."""
    return re.sub(r"[^a-z0-9а-яё]+", "-", text.casefold()).strip("-") or "shop"
