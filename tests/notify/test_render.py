"""What each warning says, in both languages: the order, the dates, the next steps, the dispute."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from monitor.model import OrderView
from monitor.notify.render import render, render_digest
from monitor.notify.texts import DISPUTE_RULES, RULES, STATUS_NAMES, text_key
from monitor.rules.engine import RULES as RULE_IDS
from tests.notify.conftest import ORDER, alert, tracking

VIEW = OrderView(order=ORDER, tracking=tracking())


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("rule", sorted(RULE_IDS))
def test_every_rule_names_the_order_its_facts_and_next_steps(rule: str, lang: str) -> None:
    warning = alert(rule)
    message = render(warning, VIEW, lang, None)  # type: ignore[arg-type]
    texts = RULES[lang][text_key(rule, VIEW, warning.facts)]  # type: ignore[index]
    assert message.title.startswith(texts.headline) and ORDER.id in message.title
    for body in (message.text, message.markdown):
        assert ORDER.id in body and "RB123456785CN" in body and "USB" in body
        assert STATUS_NAMES[lang][VIEW.tracking.status] in body  # type: ignore[index]
        assert "Shenzhen" in body and "2026-03-10" in body  # the last checkpoint: place, time
        assert "2026-03-25" in body  # buyer protection ends
        assert texts.steps[-1][:30] in body.replace("\\", "")
    assert "**" in message.markdown and "**" not in message.text
    disputed = "I request a full refund" in message.text
    assert disputed == (rule in DISPUTE_RULES)


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("rule", sorted(DISPUTE_RULES))
def test_dispute_text_is_english_with_number_date_track_and_form_answers(
    rule: str, lang: str
) -> None:
    message = render(alert(rule, facts={"deadline": "2026-03-18"}), VIEW, lang, None)  # type: ignore[arg-type]
    for expected in (
        f"Order number: {ORDER.id}",
        "Order date: 2026-02-18",
        "Track number: RB123456785CN",
        "I request a full refund",
    ):
        assert expected in message.text and expected in message.markdown
    assert "```" in message.markdown  # copyable as it is
    refund = "Refund" if lang == "en" else "Возврат средств"
    assert refund in message.text


def test_russian_is_russian_and_english_is_english() -> None:
    ru = render(alert("overdue"), VIEW, "ru", None)
    en = render(alert("overdue"), VIEW, "en", None)
    assert "Прошла ожидаемая дата доставки" in ru.title and "Трек-номер" in ru.text
    assert "Past the estimated delivery date" in en.title and "Трек" not in en.text


@pytest.mark.parametrize(
    ("promised", "en_title", "ru_title", "dispute"),
    [
        (
            None,
            "Past the estimated delivery date",
            "Прошла ожидаемая дата доставки",
            "The estimated delivery date (2026-03-18) has passed",
        ),
        (
            "2026-03-18",
            "Past the promised delivery date",
            "Прошла обещанная дата доставки",
            "The delivery date the seller promised (2026-03-18) has passed",
        ),
    ],
)
def test_a_carriers_estimate_is_called_estimated_and_only_the_shops_promise_promised(
    promised: str | None, en_title: str, ru_title: str, dispute: str
) -> None:
    order = ORDER if promised is None else replace(ORDER, promised_by=date.fromisoformat(promised))
    view = OrderView(order=order, tracking=tracking())
    warning = alert("overdue", facts={"deadline": "2026-03-18"})
    en, ru = render(warning, view, "en", None), render(warning, view, "ru", None)
    assert en.title.startswith(en_title) and ru.title.startswith(ru_title)
    assert dispute in en.text and dispute in ru.text  # the dispute message is always English
    if promised is None:
        assert "promised" not in en.text.lower() and "обещан" not in ru.text


def test_dispute_without_a_track_number_says_so() -> None:
    view = OrderView(order=ORDER.__class__(id="1", ordered_at=ORDER.ordered_at))
    message = render(alert("track_missing", order_id="1"), view, "en", None)
    assert "Track number: none (the seller has not provided one)" in message.text


def test_a_removed_order_still_renders_from_the_warning() -> None:
    message = render(alert("returning"), None, "ru", None)
    assert ORDER.id in message.text and "RB123456785CN" in message.text


def test_markdown_escapes_the_buyers_own_words() -> None:
    view = OrderView(order=ORDER.__class__(id="1", ordered_at=ORDER.ordered_at, title="*big* sale"))
    message = render(alert("delivered", order_id="1"), view, "en", None)
    assert "\\*big\\* sale" in message.markdown and "*big* sale" in message.text


def test_a_digest_keeps_every_message_whole() -> None:
    digest = render_digest([(alert("delivered"), VIEW), (alert("delivered"), VIEW)], "en")
    assert "2 updates" in digest.title and digest.text.count(ORDER.id) >= 4
