"""The tracking-source plugin contract, and how plugins are found.

A tracking source turns track numbers into `Snapshot`s. That is all it does: the differ decides
what changed, rules decide what to say. A source is a class with

- `name` (class attribute): the name used in the config (`[sources.<name>]`) and in logs;
- `Settings` (class attribute): a `SourceSettings` subclass with the source's own keys;
- `__init__(self, settings, context)`: `settings` is a validated `Settings` instance, `context` a
  `SourceContext` (clock, shared HTTP session, persistent cursors, a way to push snapshots);
- `batch_size`: how many numbers one `lookup` call accepts;
- `handles(number) -> bool`: whether this source can track such a number (default: yes);
- `async lookup(numbers) -> {number: Snapshot | LookupFailure}`: one batch. A number missing from
  the answer is simply not updated. Raise `SourceError` when the whole batch failed (network,
  authentication, quota); the poller then backs off and keeps the last known state;
- `async aclose()`: release what the source holds.

Subclassing `BaseSource` gives the defaults. Sources are found through the entry-point group
`parcel_monitor.sources` (built-ins register there too) and in plugin directories named in the
config, where each `*.py` file exposes its class as the module attribute `SOURCE` (and/or a
mail reader as `MAIL_READER`, see `monitor.mail.reader`).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, runtime_checkable

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ByteSize, ConfigDict, Field
from typing_extensions import TypeVar

from monitor.clock import Clock
from monitor.durations import Duration, PollEvery
from monitor.model import LookupFailure, Snapshot

ENTRY_POINT_GROUP = "parcel_monitor.sources"

LookupResult = Mapping[str, Snapshot | LookupFailure]


class SourceError(Exception):
    """The whole lookup failed (network down, bad credentials, quota used up, garbage answer)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PluginError(Exception):
    """A plugin could not be loaded: the message names the plugin, where it came from and why."""


class SourceSettings(BaseModel):
    """Keys every source understands; a plugin's own `Settings` subclass adds its keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    poll_every: PollEvery = Field(default=timedelta(hours=6), description="how often to poll")
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="random share of poll_every")
    concurrency: int = Field(default=2, ge=1, le=32, description="batches in flight at once")
    timeout: Duration = Field(default=timedelta(seconds=30), description="per request")
    max_answer_size: ByteSize = Field(
        default=ByteSize(5_000_000),
        ge=10_000,
        description='largest answer read, e.g. "5MB"; a longer one is refused as a failure',
    )
    max_checkpoints: int = Field(
        default=500, ge=10, le=100_000, description="checkpoints kept per number, newest first"
    )


class CursorStore(Protocol):
    """Small persistent key/value memory of a source (registered numbers, daily budgets)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def set_many(self, values: Mapping[str, str]) -> None:
        """Several keys in one write (one transaction for a whole batch of numbers)."""
        ...


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What the daemon hands a source."""

    clock: Clock
    http: Callable[[], aiohttp.ClientSession]
    cursors: CursorStore
    push: Callable[[Sequence[Snapshot]], Awaitable[None]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class TrackingSource(Protocol):
    name: ClassVar[str]
    Settings: ClassVar[type[SourceSettings]]
    batch_size: int

    def handles(self, number: str) -> bool: ...

    async def lookup(self, numbers: Sequence[str]) -> LookupResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class WebhookSource(Protocol):
    """Optional: a source the service pushes to. Its routes are mounted under
    `/hooks/<source name>` on the daemon's HTTP API, outside its token check (the source checks
    each request itself); what it is told goes to `context.push` as snapshots."""

    def webhook_routes(self) -> list[web.RouteDef]: ...


S = TypeVar("S", bound=SourceSettings, default=SourceSettings)


class BaseSource(Generic[S]):
    """Defaults for the optional parts of the contract.

    Generic over the plugin's settings: `class MySource(BaseSource[MySettings])` with
    `Settings = MySettings` gets `self.settings` typed as `MySettings` (the daemon validates the
    section with `Settings` and passes that object in).
    """

    name: ClassVar[str] = ""
    Settings: ClassVar[type[SourceSettings]] = SourceSettings
    batch_size: int = 40

    def __init__(self, settings: S, context: SourceContext) -> None:
        self.settings: S = settings
        self.context = context

    def handles(self, number: str) -> bool:
        return True

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    factory: type[Any]
    origin: str  # "entry point parcel_monitor_plugins.replay:ReplaySource" or a file path


def _validate(factory: Any, expected_name: str | None, origin: str) -> PluginInfo:
    where = f"plugin at {origin}"
    if not inspect.isclass(factory):
        raise PluginError(f"{where}: expected a class, got {type(factory).__name__}")
    name = getattr(factory, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"{where}: class attribute `name` must be an identifier, got {name!r}")
    if expected_name is not None and name != expected_name:
        raise PluginError(
            f"{where}: entry point is called {expected_name!r} but the class says {name!r}"
        )
    settings = getattr(factory, "Settings", None)
    if not (inspect.isclass(settings) and issubclass(settings, SourceSettings)):
        raise PluginError(
            f"{where}: `Settings` must be a subclass of monitor.plugin.SourceSettings"
        )
    if not inspect.iscoroutinefunction(getattr(factory, "lookup", None)):
        raise PluginError(f"{where}: `lookup` must be an async method")
    batch = getattr(factory, "batch_size", None)
    if not isinstance(batch, int) or batch < 1:
        raise PluginError(f"{where}: `batch_size` must be a positive integer, got {batch!r}")
    return PluginInfo(name=name, factory=factory, origin=origin)


Validate = Callable[[Any, str | None, str], PluginInfo]


def _from_entry_points(group: str, validate: Validate) -> Iterable[PluginInfo]:
    for ep in entry_points(group=group):
        origin = f"entry point {ep.value}" + (f" ({ep.dist.name})" if ep.dist else "")
        try:
            factory = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} from {origin} failed to import: {exc}") from exc
        yield validate(factory, ep.name, origin)


# What a file in a plugin directory may expose; one file may hold a source and a mail reader.
PLUGIN_ATTRIBUTES = {"SOURCE": "the source class", "MAIL_READER": "the mail reader class"}


def _from_directory(directory: Path, attribute: str, validate: Validate) -> Iterable[PluginInfo]:
    if not directory.is_dir():
        raise PluginError(f"plugin directory {directory} does not exist or is not a directory")
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module_name = f"parcel_monitor_local_plugins.{path.stem}"
        module = _import_file(path, module_name)  # again on every discovery: reload re-reads
        if not any(hasattr(module, name) for name in PLUGIN_ATTRIBUTES):
            wanted = " or ".join(f"{name} ({what})" for name, what in PLUGIN_ATTRIBUTES.items())
            raise PluginError(f"plugin file {path} does not define {wanted}")
        factory = getattr(module, attribute, None)
        if factory is not None:
            yield validate(factory, None, str(path))


def _import_file(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"plugin file {path} failed to import: {exc}") from exc
    return module


def discover_plugins(
    plugin_dirs: Sequence[Path], *, group: str, attribute: str, validate: Validate
) -> dict[str, PluginInfo]:
    """Plugins of one kind: entry points first, then each plugin directory. Duplicate names
    are errors."""
    found: dict[str, PluginInfo] = {}
    candidates: list[Iterable[PluginInfo]] = [_from_entry_points(group, validate)]
    candidates += [_from_directory(Path(d), attribute, validate) for d in plugin_dirs]
    for candidate in candidates:
        for info in candidate:
            if info.name in found:
                raise PluginError(
                    f"two plugins are called {info.name!r}: {found[info.name].origin} "
                    f"and {info.origin}; remove or rename one"
                )
            found[info.name] = info
    return found


def discover(plugin_dirs: Sequence[Path] = ()) -> dict[str, PluginInfo]:
    """All tracking sources: entry points first, then each plugin directory."""
    return discover_plugins(
        plugin_dirs, group=ENTRY_POINT_GROUP, attribute="SOURCE", validate=_validate
    )


def load_source_class(name: str) -> type[Any]:
    """One source class by its entry-point name, without importing every other plugin."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        origin = f"entry point {ep.value}"
        try:
            factory = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {name!r} from {origin} failed to import: {exc}") from exc
        return _validate(factory, name, origin).factory
    raise PluginError(f"no source plugin called {name!r} is installed")
