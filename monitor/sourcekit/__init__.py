"""Building blocks for tracking sources (public plugin API, stable like `monitor.plugin`).

- `request` / `fetch_json`: HTTP calls whose every failure (timeout, refused connection, HTTP
  error, an HTML page where JSON was due, an answer over the size limit, a redirect to another
  origin) becomes a `SourceError` with a reason a person can act on;
- `answer_limit`: the most bytes one answer may have (the poller sets it per source);
- `off_loop`: runs a parser in a worker thread when the answer is big, so the event loop (and the
  systemd watchdog ping) does not wait for it;
- `BaseUrl`: a settings field type for `scheme://host[:port]`;
- `RateLimiter`: spaces requests out to a carrier's allowed rate;
- `as_object` / `as_list` / `as_text`: tolerant access to decoded JSON, raising `PayloadError`
  (a `ValueError`) when the shape is wrong, so a parser has one exception type to catch;
- `ParseCache`: skips parsing an answer identical to the last one for the same number;
- `shared_zone`: one tzinfo object per UTC offset, for parsers that keep many checkpoints;
- `Meaning` / `UnknownCodes`: a row of a carrier's code table, and the reading of a code no table
  knows (`in_transit`, logged once per process and code).
- `bounded`: drops dates outside sane years (the differ applies it to every snapshot).

Messages never include request headers or bodies: that is where API keys and passwords travel.
For the same reason redirects are followed only within the origin (scheme, host and port) the
request went to: a source's API key or password must never reach another server.
"""

from monitor.sourcekit.http import (
    DEFAULT_MAX_ANSWER_BYTES,
    MAX_REDIRECTS,
    OFF_LOOP_BYTES,
    BaseUrl,
    HttpReply,
    RateLimiter,
    answer_limit,
    decode_json,
    fetch_json,
    http_error,
    off_loop,
    request,
    retry_after,
    validate_base_url,
)
from monitor.sourcekit.payload import (
    Meaning,
    ParseCache,
    PayloadError,
    UnknownCodes,
    as_list,
    as_object,
    as_text,
    bounded,
    fingerprint,
    shared_zone,
)

__all__ = [
    "DEFAULT_MAX_ANSWER_BYTES",
    "MAX_REDIRECTS",
    "OFF_LOOP_BYTES",
    "BaseUrl",
    "HttpReply",
    "Meaning",
    "ParseCache",
    "PayloadError",
    "RateLimiter",
    "UnknownCodes",
    "answer_limit",
    "as_list",
    "as_object",
    "as_text",
    "bounded",
    "decode_json",
    "fetch_json",
    "fingerprint",
    "http_error",
    "off_loop",
    "request",
    "retry_after",
    "shared_zone",
    "validate_base_url",
]
