"""One mail as the readers see it: headers that matter and its text, HTML turned into lines.

Nothing here is stored: the intake keeps only what readers extract, plus the Message-ID, the
sender, the date and the subject.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    sender: str  # as the From header shows it: `AliExpress <transaction@notice.aliexpress.com>`
    sender_name: str
    sender_address: str  # lower case
    date: datetime | None  # the Date header, with its offset; None when missing or broken
    subject: str
    text: str  # the plain-text parts and the HTML parts as text, one block per line
    links: tuple[str, ...]  # every href of the HTML parts

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]


_SKIPPED = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_BLOCK = re.compile(
    r"</?(?:p|div|br|tr|li|table|td|th|hr|section|article|header|footer|h[1-6])\b[^>]*>", re.I
)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\xa0\u200b]+")
_URL = re.compile(r"https?://\S+")
# What a mail quotes is another mail's (an old order, the buyer's own words): never read.
_BLOCKQUOTE = re.compile(
    r"<blockquote\b[^>]*>(?:(?!<blockquote\b).)*?</blockquote\s*>", re.I | re.S
)
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$\n?", re.M)
_QUOTE_START = re.compile(
    r"^[ \t]*(?:On\b.{0,300}?\bwrote:|.{0,300}?\bпишет:|-{2,}[ \t]*Original Message[ \t]*-{2,}|"
    r"-*[ \t]*Пересылаемое сообщение[ \t]*-*)[ \t\r]*$",
    re.I | re.M,
)
_QUOTE_HINT = re.compile(r"wrote:|пишет:|original message|пересылаемое сообщение", re.I)
_HREF = re.compile(r"<a\b[^>]*?\bhref\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """The visible text of an HTML body (blocks on their own lines) and its links.

    Regular expressions rather than an HTML parser: shop mails are machine-written tables, the
    text only feeds the readers' patterns, and a first scan turns thousands of them into text.
    """
    text = _SKIPPED.sub(" ", html)
    while True:  # innermost quote first: they nest
        text, removed = _BLOCKQUOTE.subn(" ", text)
        if not removed:
            break
    links = [unescape(next(g for g in m.groups() if g is not None)) for m in _HREF.finditer(text)]
    text = _TAG.sub("", _BLOCK.sub("\n", text))
    return tidy(unescape(text)), links


def unquoted(text: str) -> str:
    """The mail's own words: no `>` lines, nothing after "On … wrote:" or a forwarded header."""
    if ">" in text:
        text = _QUOTED_LINE.sub("", text)
    if not _QUOTE_HINT.search(text):  # most mails: the line-by-line pattern is not needed
        return text
    start = _QUOTE_START.search(text)
    return text[: start.start()] if start else text


def tidy(text: str) -> str:
    """One space between words, no empty lines: what the readers' patterns expect."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


_SIMPLE_FROM = re.compile(
    r'(?:([^<>",;@]*|"[^"]*")\s*<([^<>\s]+@[^<>\s]+)>|([^<>\s,;"]+@[^<>\s,;"]+))'
)


def _header(msg: Message, name: str) -> str:
    """A header as text, RFC 2047 encoded words decoded (`=?utf-8?b?...?=`)."""
    value = msg.get(name)
    if value is None:
        return ""
    if "=?" not in str(value):
        return " ".join(str(value).split())  # unfolded
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeError):  # an unknown charset, a broken word
        return str(value)


def _message_id(msg: Message, raw: bytes) -> str:
    found = _header(msg, "Message-ID").strip()
    if found:
        return found
    # Without one, the mail's own bytes name it: the same mail read twice is still one mail.
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:32]}@parcel-monitor.invalid>"


def _date(msg: Message) -> datetime | None:
    header = _header(msg, "Date")
    if not header:
        return None
    try:
        value = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else None


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", "replace")


def parse_mail(raw: bytes) -> Mail:
    """Parse a whole RFC 5322 message; broken parts are skipped, never raised.

    The legacy (compat32) parser: a dozen times faster than `policy.default`, which matters on
    a first scan of a whole mailbox, and the decoding it leaves to us is a few lines.
    """
    msg = message_from_bytes(raw)
    texts: list[str] = []
    links: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()  # each header lookup walks the headers: ask once
        if not kind.startswith("text/"):
            continue
        if str(part.get("Content-Disposition", "")).lstrip()[:10].lower() == "attachment":
            continue
        content = _decoded(part)
        if kind == "text/html":
            text, found = html_to_text(content)
            texts.append(unquoted(text))
            links += found
        else:
            content = unquoted(content)
            texts.append(tidy(content))
            links += _URL.findall(content)
    sender = _header(msg, "From")
    simple = _SIMPLE_FROM.fullmatch(sender)
    if simple:  # `Shop <a@b>` or `a@b`: the common case, without the full RFC 5322 parser
        name, address = (simple[1] or "").strip().strip('"'), simple[2] or simple[3]
    else:
        name, address = getaddresses([sender])[0] if sender else ("", "")
    return Mail(
        message_id=_message_id(msg, raw),
        sender=sender,
        sender_name=name,
        sender_address=address.lower(),
        date=_date(msg),
        subject=_header(msg, "Subject"),
        text="\n".join(t for t in texts if t),
        links=tuple(links),
    )
