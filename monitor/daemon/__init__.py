"""The long-running daemon: a core that lives as long as the process, and parts rebuilt on reload.

- The core (`Running`: store, shared HTTP session, pipeline: bus, poller, differ, rules state and
  order book) is opened once by `assemble()` and closed once at the very end. A reload never
  touches it, so no state is lost.
- A *part* is whatever is derived from the settings: logging, rule thresholds, the polling
  sources, the timers, the notifier, MQTT, HTTP and the mailbox watcher. `PARTS` lists the
  factories; each takes `(settings, origin, running)` and returns a `Part`, or raises
  `ConfigError`/`PluginError`. Building has no effect on the running daemon; `apply()` installs
  the part into the core, `start()` spawns its tasks, `aclose()` ends them (finishing work in
  flight) and releases what the part holds. The same `start()`/`aclose()` pair (or `async with`)
  runs every component: the MQTT bridge, the notification service, the sources.
- Startup builds every part before any runs, so a bad configuration stops the daemon with a
  message before anything starts (`parcel-monitor run` exits 78).
- Reload (SIGHUP) re-reads the configuration and plugins and builds a whole new generation of
  parts. If anything is wrong, the error is logged and the old generation keeps running. Otherwise
  the old parts stop (in reverse order) and the new ones are applied and started.
- Stop (SIGTERM/SIGINT): parts stop in reverse order, then the core closes. Store writes are
  synchronous transactions between awaits, so cancelling a task never leaves one half done.

To add a part: subclass `Part`, override what it needs, and build it in `build_parts` (or
append its factory to `PARTS`, the parts that need nothing from the others).
systemd is told about each step through `monitor.systemd` (a no-op outside systemd).
"""

from monitor.daemon.assembly import PARTS, assemble, build_parts, validate
from monitor.daemon.core import Part, PartFactory, Running
from monitor.daemon.parts import Http, Mqtt, Sources
from monitor.daemon.serving import reload, serve

__all__ = [
    "PARTS",
    "Http",
    "Mqtt",
    "Part",
    "PartFactory",
    "Running",
    "Sources",
    "assemble",
    "build_parts",
    "reload",
    "serve",
    "validate",
]
