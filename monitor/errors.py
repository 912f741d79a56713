"""Errors every layer may raise without importing the layer that reports them."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file or variable and the key."""
