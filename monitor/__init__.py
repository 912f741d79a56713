"""parcel-monitor: a self-hosted watchdog for online orders that do not arrive."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("parcel-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
