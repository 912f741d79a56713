"""The channels a notification can take: the configured Apprise services, checked at start.

Every service becomes a `Target` with its own single-service Apprise object. Sending to each
target separately lets a message use that channel's format (Markdown where it is understood,
plain text elsewhere) and lets the outbox remember which channels already have a message, so a
retry after a partial failure never repeats it on the channels that got it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apprise
from apprise import NotifyFormat, NotifyType

from monitor.errors import ConfigError
from monitor.model import Severity
from monitor.notify.masking import mask_url, mask_urls_in, private_name, scrub
from monitor.notify.render import Message

NOTIFY_TYPES = {
    Severity.INFO: NotifyType.INFO,
    Severity.WARNING: NotifyType.WARNING,
    Severity.CRITICAL: NotifyType.FAILURE,  # the red one: services colour and sound it apart
}


class ChannelError(ConfigError):
    """The notification channels are misconfigured: the message names the URL, file or tag."""


_TAGGED = re.compile(r"^\s*([\w\s,.-]+?)\s*=\s*([a-z][a-z0-9+.-]*://.*)$", re.IGNORECASE)


def split_tags(entry: str) -> tuple[list[str], str]:
    """`push, sms=tgram://...` (Apprise's TEXT-config form) -> (["push", "sms"], "tgram://...")."""
    tagged = _TAGGED.match(entry)
    if tagged is None:
        return [], entry.strip()
    tags = [tag.strip() for tag in tagged.group(1).split(",") if tag.strip()]
    return tags, tagged.group(2).strip()


@dataclass(frozen=True, slots=True)
class Target:
    """One configured service."""

    key: str  # stable and secret-free: a hash of the full URL, for the delivery ledger
    name: str  # the URL as Apprise prints it with secrets hidden
    markdown: bool  # whether the service understands Markdown (or HTML converted from it)
    tags: frozenset[str]
    service: apprise.Apprise  # holds only this service


@dataclass(frozen=True, slots=True)
class Delivery:
    target: Target
    ok: bool
    reason: str = ""


class Channels:
    """The targets built from `urls` and an Apprise config file; `build` refuses bad ones."""

    def __init__(self, targets: Sequence[Target], everything: apprise.Apprise) -> None:
        self.targets = tuple(targets)
        self._everything = everything
        self._by_service = {id(_only(t.service)): t for t in targets}

    @classmethod
    def build(
        cls,
        urls: Iterable[str],
        config: Path | None = None,
        *,
        required_tags: Iterable[str] = (),
    ) -> Channels:
        everything = apprise.Apprise()
        for entry in urls:
            tags, url = split_tags(entry)
            with apprise.LogCapture(level=logging.WARNING) as said:
                added = everything.add(url, tag=tags or None)
            if not added:
                # Apprise repeats the URL it rejected, and masks it only if it parsed it.
                why = scrub(_reason_lines(said.getvalue()), entry.strip(), url)
                raise ChannelError(
                    f"notify.urls: Apprise cannot use {mask_url(url)}"
                    + (f" ({why})" if why else "")
                    + "; check the URL against Apprise's documentation for that service"
                )
        if config is not None:
            everything.add(_load_config(config))
        with apprise.LogCapture(level=logging.WARNING) as said:
            services = list(everything.find(apprise.common.MATCH_ALL_TAG))
        if config is not None and said.getvalue().strip():
            raise ChannelError(f"{config}: {_reason_lines(said.getvalue())}")
        if not services:
            raise ChannelError("notify: no notification service is configured")
        flat = apprise.Apprise()
        targets = []
        for service in services:
            single = apprise.Apprise()
            single.add(service)
            flat.add(service)
            targets.append(
                Target(
                    key=hashlib.sha256(service.url().encode()).hexdigest()[:16],
                    name=private_name(service.url(privacy=True)),
                    markdown=_renders_markdown(service),
                    tags=frozenset(str(tag) for tag in service.tags),
                    service=single,
                )
            )
        channels = cls(targets, flat)
        for tag in sorted(set(required_tags)):
            if not channels.matching((tag,)):
                known = sorted({t for target in targets for t in target.tags})
                raise ChannelError(
                    f"notify: no service matched the tag {tag!r} (tags in use: {known or 'none'})"
                )
        return channels

    def matching(self, tags: Sequence[str]) -> list[Target]:
        """The targets for these tags (any of them); no tags means every target."""
        wanted = list(tags) if tags else apprise.common.MATCH_ALL_TAG
        return [self._by_service[id(service)] for service in self._everything.find(wanted)]

    async def send(self, target: Target, message: Message, *, limit_s: float) -> Delivery:
        """Deliver to one target; Apprise reports failure by result, which we pass on."""
        body, fmt = (
            (message.markdown, NotifyFormat.MARKDOWN)
            if target.markdown
            else (message.text, NotifyFormat.TEXT)
        )
        try:
            result = await target.service.async_notify(
                body=body,
                title=message.title,
                body_format=fmt,
                notify_type=NOTIFY_TYPES[message.severity],
                timeout=limit_s,
            )
        except Exception as exc:  # a plugin bug must not stop the sender
            return Delivery(target, ok=False, reason=f"{type(exc).__name__}: {exc}")
        with result:
            if result:
                return Delivery(target, ok=True)
            reason = "; ".join(e.message for e in result.logs() if e.level != "DEBUG")
        return Delivery(target, ok=False, reason=mask_urls_in(reason) or "Apprise said no")


_PASS_THROUGH = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
"""Generic webhooks: they hand any format on to a program or a plain display, which would show
Markdown's escapes and asterisks as they are."""


def _renders_markdown(service: Any) -> bool:
    """Whether a service shows Markdown (or HTML made from it) as formatting."""
    protocols = {
        str(name).lower()
        for attribute in (service.protocol, service.secure_protocol)
        for name in (attribute if isinstance(attribute, tuple | list) else (attribute,))
        if name
    }
    if protocols & _PASS_THROUGH:
        return False
    resolved = service.resolve_format(NotifyFormat.MARKDOWN)
    return resolved in (NotifyFormat.MARKDOWN, NotifyFormat.HTML)


def _only(apobj: apprise.Apprise) -> object:
    return next(iter(apobj.find(apprise.common.MATCH_ALL_TAG)))


def _load_config(path: Path) -> apprise.AppriseConfig:
    if not path.is_file():
        raise ChannelError(f"notify.config: Apprise config file {path} not found")
    config = apprise.AppriseConfig()
    with apprise.LogCapture(level=logging.WARNING) as said:
        loaded = config.add(str(path.resolve()))
    if not loaded:
        raise ChannelError(f"notify.config: {path}: {_reason_lines(said.getvalue())}")
    return config


def _reason_lines(captured: str) -> str:
    """Apprise's captured log lines without their timestamps, URLs masked."""
    lines = [line.split(" - ", 2)[-1].strip() for line in captured.splitlines() if line.strip()]
    return mask_urls_in("; ".join(lines))
