"""The view shapes and the words around them, without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest

from monitor.model import EtaWindow
from monitor.store import OrderRank
from monitor.views import EtaPoint, detail, overview, urgency
from monitor.web import texts
from monitor.web.chart import eta_chart
from tests.web import desk as fixtures
from tests.web.desk import CASE, LAMP, LIGHT


@pytest.mark.parametrize(
    ("days", "words"),
    [(1, "1 день"), (3, "3 дня"), (5, "5 дней"), (11, "11 дней"), (21, "21 день"), (24, "24 дня")],
)
def test_russian_counts_agree_with_their_number(days: int, words: str) -> None:
    assert texts.countdown(timedelta(days=days, hours=1), "ru") == f"закончится через {words}"


def test_a_countdown_that_has_run_out_says_so() -> None:
    assert texts.countdown(timedelta(hours=-5), "en") == "ended 5 hours ago"


def test_accept_language_picks_russian_only_when_asked() -> None:
    assert texts.pick_language(None, "ru-RU,ru;q=0.9") == "ru"
    assert texts.pick_language(None, "de-DE,fr;q=0.5") == "en"
    assert texts.pick_language("en", "ru") == "en"


def test_no_chart_without_an_estimate_and_one_bar_per_estimate() -> None:
    labels = texts.labels("en")
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert eta_chart((), promised=None, protection=None, labels=labels, now=now) is None
    points = [
        EtaPoint(now - timedelta(days=9), EtaWindow(date(2026, 2, 5), date(2026, 2, 9))),
        EtaPoint(now - timedelta(days=2), None),  # the carrier stopped giving one
        EtaPoint(now, EtaWindow(date(2026, 2, 9), date(2026, 2, 15))),
    ]
    svg = str(eta_chart(points, promised=None, protection=None, labels=labels, now=now))
    assert svg.count('class="chart-estimate"') == 2 and "chart-promised" not in svg
    assert "<script" not in svg and "style=" not in svg


def test_the_overview_and_an_orders_detail(tmp_path: Path) -> None:
    pipeline, clock = fixtures.build(tmp_path)
    page = overview(pipeline.store, now=clock.now(), lang="en", show="all")
    assert page.orders[0].id == LIGHT and page.orders[0].critical == 2  # protection, storage
    case = page.orders[-1]
    # A final order is listed last; its warnings stay visible but none counts as open.
    assert case.id == CASE and case.final and case.critical == 0
    assert [w.rule for w in case.warnings] == ["delivered"]
    lamp = detail(pipeline.store, LAMP, now=clock.now(), lang="en")
    assert lamp is not None
    # The overview shows the newest warning of each kind; the evidence keeps all of them.
    assert [w.rule for w in lamp.summary.warnings].count("eta_shifted") == 1
    assert [w.rule for w in lamp.all_warnings].count("eta_shifted") == 3
    assert lamp.sources == ("cainiao",)
    assert [p.eta.latest if p.eta else None for p in lamp.etas] == [
        date(2026, 2, 10),
        date(2026, 2, 18),
        date(2026, 2, 27),
        date(2026, 3, 6),
    ]
    assert lamp.timeline[0].text == "Electronic information received"
    assert lamp.summary.dispute is not None and f"Order number: {LAMP}" in lamp.summary.dispute
    pipeline.store.close()


def test_the_nearest_deadline_counts_whether_protection_or_storage() -> None:
    def rank(order_id: str, protection: int | None, storage: int | None) -> OrderRank:
        base = datetime(2026, 3, 1, tzinfo=UTC)
        return OrderRank(
            order_id=order_id,
            title="",
            tracks=(),
            final=False,
            protection_until=base + timedelta(days=protection) if protection else None,
            storage_until=(base + timedelta(days=storage)).date() if storage else None,
            warnings=0,
            critical=0,
        )

    ranks = [rank("a", 10, None), rank("b", 30, 3), rank("c", None, None), rank("d", 5, None)]
    assert [r.order_id for r in sorted(ranks, key=urgency)] == ["b", "d", "a", "c"]
    critical = rank("e", None, None)._replace(warnings=1, critical=1)
    final = rank("f", 1, None)._replace(final=True)
    assert [r.order_id for r in sorted([*ranks, critical, final], key=urgency)][0::5] == ["e", "f"]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_chart_label_stays_inside_the_picture(lang: str) -> None:
    # The QA trial saw the last date on the x axis cut to "2026-12-": a label centred on the
    # right edge. The width is estimated (0.6 em a character, generous for digits and Cyrillic).
    labels = texts.labels(lang)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    points = [
        EtaPoint(now - timedelta(days=40), EtaWindow(date(2026, 12, 5), date(2026, 12, 20))),
        EtaPoint(now - timedelta(days=11), EtaWindow(date(2026, 12, 10), date(2026, 12, 28))),
        EtaPoint(now, EtaWindow(date(2026, 12, 15), date(2027, 1, 9))),
    ]
    svg = str(
        eta_chart(
            points, promised=date(2026, 12, 12), protection=date(2027, 1, 2), labels=labels, now=now
        )
    )
    root = ElementTree.fromstring(svg)
    assert "width" not in root.attrib and "height" not in root.attrib  # it scales to its box
    left, top, width, height = (float(v) for v in root.attrib["viewBox"].split())
    texts_seen = root.findall("{http://www.w3.org/2000/svg}text")
    assert len(texts_seen) >= 8
    for text in texts_seen:
        size = float(text.attrib["font-size"])
        extent = len(text.text or "") * size * 0.6
        x, y = float(text.attrib["x"]), float(text.attrib["y"])
        start = {"start": x, "middle": x - extent / 2, "end": x - extent}[
            text.attrib.get("text-anchor", "start")
        ]
        assert left <= start and start + extent <= left + width, (text.text, start, extent)
        assert top <= y - size and y <= top + height, text.text
