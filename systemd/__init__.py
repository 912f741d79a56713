"""The systemd unit files, installed as the package data of `monitor.units` (service install)."""
