"""What the dashboard and the evidence pack share: the templates, the way dates and durations are
said, and the evidence document (as HTML and, printed by a headless Chromium, as PDF).

The evidence is printed by Chromium rather than WeasyPrint: it draws the very page the buyer sees
(the same CSS and SVG), and needs no extra native libraries in the Python environment.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import jinja2

from monitor.model import Status
from monitor.notify.texts import STATUS_NAMES, Language
from monitor.store import Store
from monitor.views import OrderDetail, detail
from monitor.views.terminal import origin_text
from monitor.web import texts
from monitor.web.chart import eta_chart

HERE = Path(__file__).parent
STATIC = HERE / "static"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_S = 60.0


class EvidenceError(Exception):
    """The PDF could not be made; the message says why and what to do."""


def environment() -> jinja2.Environment:
    """The template settings, for aiohttp-jinja2 and for the CLI alike."""
    return jinja2.Environment(**environment_options())


def environment_options() -> dict[str, Any]:
    return {
        "loader": jinja2.PackageLoader("monitor.web", "templates"),
        "autoescape": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "undefined": jinja2.StrictUndefined,
    }


@dataclass(frozen=True, slots=True)
class Say:
    """How a page says times, durations and statuses in the reader's language and zone."""

    lang: Language
    zone: tzinfo

    def when(self, value: datetime | None) -> str:
        return f"{value.astimezone(self.zone):%Y-%m-%d %H:%M}" if value else "—"

    def day(self, value: date | datetime | None) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return value.isoformat() if value else "—"

    def ago(self, delta: timedelta) -> str:
        return texts.ago(delta, self.lang)

    def countdown(self, left: timedelta) -> str:
        return texts.countdown(left, self.lang)

    def state(self, state: str) -> str:
        return texts.state_text(state, self.lang)

    def status(self, status: Status) -> str:
        return STATUS_NAMES[self.lang][status]

    def origin(self, origin: str) -> str:
        return origin_text(origin, self.lang)


def chart(item: OrderDetail, t: dict[str, str], now: datetime, zone: tzinfo) -> Any:
    summary = item.summary
    protection = summary.protection_until
    return eta_chart(
        item.etas,
        promised=summary.promised_by,
        protection=protection.astimezone(zone).date() if protection else None,
        labels=t,
        now=now,
    )


def evidence_context(
    item: OrderDetail, *, now: datetime, lang: Language, zone: tzinfo
) -> dict[str, Any]:
    t = texts.labels(lang)
    return {
        "t": t,
        "say": Say(lang, zone),
        "lang": lang,
        "item": item,
        "chart": chart(item, t, now, zone),
        "now": now,
    }


def evidence_html(
    env: jinja2.Environment,
    store: Store,
    order_id: str,
    *,
    now: datetime,
    lang: Language,
    zone: tzinfo,
    inline_css: bool,
) -> str | None:
    """The evidence document, or None for an unknown order. `inline_css` makes it one file."""
    item = detail(store, order_id, now=now, lang=lang, zone=zone)
    if item is None:
        return None
    context = evidence_context(item, now=now, lang=lang, zone=zone)
    context["css"] = (STATIC / "evidence.css").read_text(encoding="utf-8") if inline_css else None
    return env.get_template("evidence.html").render(context)


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise EvidenceError(
        "printing the PDF needs Chromium (e.g. `apt-get install chromium`); without it, open "
        "/orders/ORDER_ID/evidence on the dashboard and print it to PDF from the browser"
    )


async def print_pdf(html: str, *, browser: str | None = None) -> bytes:
    """Print a self-contained HTML document to an A4 PDF with a headless Chromium."""
    executable = browser or find_browser()
    with tempfile.TemporaryDirectory(prefix="parcel-monitor-evidence-") as tmp:
        page, out = Path(tmp) / "evidence.html", Path(tmp) / "evidence.pdf"
        page.write_text(html, encoding="utf-8")
        args = [
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
        ]
        if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox
            args.append("--no-sandbox")
        process = await asyncio.create_subprocess_exec(
            executable,
            *args,
            page.as_uri(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(PDF_TIMEOUT_S):
                _, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise EvidenceError(
                f"{executable} did not print within {PDF_TIMEOUT_S:.0f} s"
            ) from None
        if not out.exists() or out.stat().st_size == 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise EvidenceError(
                f"{executable} printed no PDF (exit {process.returncode}: {last[0]})"
            )
        return out.read_bytes()
