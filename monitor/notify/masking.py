"""Apprise URLs fit for error messages and `config check`: secrets hidden."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"^([^/@:]*):([^/@]*)@")
_QUERY_VALUE = re.compile(r"([?&][^=&]+=)[^&]*")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{8,}")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# Apprise's custom parameters: `+Name` request headers, `-name` query arguments, `:name` payload
# fields; `?+X-Token=...` and `+Authorization=...` carry credentials, and Apprise prints them
# even in its `privacy=True` form.
_CUSTOM_PARAM = re.compile(r"([?&](?:%2B|%2D|%3A|[+:-])[^=&]*=)[^&]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL fit for an error message: passwords, query values and token-like parts hidden.

    Used for URLs Apprise rejected, which it cannot mask for us; a token is often the host
    (Telegram's bot token) or a path segment, so every long run of token characters is cut.
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return _TOKENISH.sub(lambda m: m.group()[:3] + "****", url.strip())
    rest = _USERINFO.sub(r"\1:****@", rest)
    rest = _QUERY_VALUE.sub(r"\1****", rest)
    rest = _TOKENISH.sub(lambda m: m.group()[:3] + "****", rest)
    return f"{scheme}://{rest}"


def mask_urls_in(text: str) -> str:
    return _URL.sub(lambda m: mask_url(m.group()), text)


def private_name(apprise_url: str) -> str:
    """A service's own `url(privacy=True)` with the custom headers and arguments it leaves in
    clear hidden too: the name logs and `notify test` may show."""
    return _CUSTOM_PARAM.sub(r"\1****", apprise_url)


def scrub(text: str, *secrets: str) -> str:
    """`text` with each secret (e.g. a URL Apprise rejected and repeats) replaced by its masked
    form, then every URL left in it masked."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, mask_url(secret))
    return mask_urls_in(text)
