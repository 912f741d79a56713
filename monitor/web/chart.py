"""The ETA chart: each estimate window the carrier gave, against the day it was seen, with the
promised date and the end of buyer protection as lines ("the estimated time keeps changing").

A small server-rendered SVG: presentation attributes only (no inline style, so the page's CSP
holds and the evidence PDF prints the same colours).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape

from monitor.views import EtaPoint

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 16, 34
BAR = "#3a6ea5"
PROMISED = "#8a6d00"
PROTECTION = "#b3261e"
GRID = "#d8d8d8"
INK = "#333333"
DATE_WIDTH = 70  # an ISO date at font-size 11, a little generous


def eta_chart(
    points: Sequence[EtaPoint],
    *,
    promised: date | None,
    protection: date | None,
    labels: dict[str, str],
    now: datetime,
) -> Markup | None:
    """The chart, or None when the carrier never gave an estimate."""
    seen = [p for p in points if p.eta is not None]
    if not seen:
        return None
    x_low = min(p.seen_at for p in points)
    x_high = max(max(p.seen_at for p in points), min(now, x_low + timedelta(days=365)))
    if x_high - x_low < timedelta(days=1):
        x_high = x_low + timedelta(days=1)
    days = [d for p in seen if p.eta for d in (p.eta.earliest, p.eta.latest)]
    days += [d for d in (promised, protection) if d is not None]
    y_low, y_high = min(days) - timedelta(days=2), max(days) + timedelta(days=2)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_w * (at - x_low) / (x_high - x_low)

    def y(day: date) -> float:  # later days higher up
        return TOP + plot_h * (1 - (day - y_low).days / max(1, (y_high - y_low).days))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="eta-chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(labels["chart"])}">',
        f"<title>{escape(labels['chart'])}</title>",
    ]
    for tick in _ticks(y_low, y_high, 5):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{INK}">{tick.isoformat()}</text>'
        )
    for tick in _ticks(x_low.date(), x_high.date(), 4):
        at = datetime.combine(tick, x_low.timetz())
        if x_low <= at <= x_high:
            parts.append(
                f'<text x="{x(at):.1f}" y="{HEIGHT - 12}" text-anchor="{_anchor(x(at))}" '
                f'font-size="11" fill="{INK}">{tick.isoformat()}</text>'
            )
    for day, colour, key in ((promised, PROMISED, "promised"), (protection, PROTECTION, "prot")):
        if day is not None:
            parts.append(
                f'<line class="chart-{key}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(day):.1f}" '
                f'y2="{y(day):.1f}" stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/>'
                f'<text x="{WIDTH - RIGHT - 4}" y="{y(day) - 5:.1f}" text-anchor="end" '
                f'font-size="11" fill="{colour}">{escape(labels[key])} {day.isoformat()}</text>'
            )
    latest = []
    for point in seen:
        assert point.eta is not None
        px, top, bottom = x(point.seen_at), y(point.eta.latest), y(point.eta.earliest)
        latest.append(f"{px:.1f},{top:.1f}")
        parts.append(
            f'<g class="chart-estimate"><title>{point.seen_at.date().isoformat()}: '
            f"{point.eta}</title>"
            f'<rect x="{px - 4:.1f}" y="{top:.1f}" width="8" height="{max(2.0, bottom - top):.1f}"'
            f' fill="{BAR}" fill-opacity="0.35" stroke="{BAR}"/>'
            f'<circle cx="{px:.1f}" cy="{top:.1f}" r="3.5" fill="{BAR}"/></g>'
        )
    if len(latest) > 1:
        parts.append(
            f'<polyline points="{" ".join(latest)}" fill="none" stroke="{BAR}" stroke-width="1.5"/>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="{INK}"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{INK}"/></svg>'
    )
    return Markup("".join(parts))


def _anchor(at: float) -> str:
    """A date centred near an edge would be cut off there: it leans into the plot instead."""
    half = DATE_WIDTH / 2
    if at + half > WIDTH:
        return "end"
    if at - half < 0:
        return "start"
    return "middle"


def _ticks(low: date, high: date, count: int) -> list[date]:
    span = max(1, (high - low).days)
    step = max(1, round(span / count))
    return [low + timedelta(days=offset) for offset in range(0, span + 1, step)]
