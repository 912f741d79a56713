"""The dashboard's words in English and Russian; warnings and statuses come from
`monitor.notify.texts`, so a warning reads the same on the page as in a notification."""

from __future__ import annotations

from datetime import timedelta

from monitor.model import Status
from monitor.notify.languages import LANGUAGES, Language
from monitor.notify.texts import LABELS, STATUS_NAMES

WORDS: dict[Language, dict[str, str]] = {
    "en": {
        "title": "Parcels",
        "open": "Open",
        "closed": "Closed",
        "all": "All",
        "search": "Order id, track number or title",
        "find": "Find",
        "no_orders": "No orders here.",
        "ordered": "Ordered",
        "status": "Status",
        "last_checkpoint": "Last checkpoint",
        "eta": "Estimated delivery",
        "shop_estimate": "the shop's estimate",
        "protection": "Buyer protection",
        "warnings": "Warnings",
        "no_warnings": "No warnings.",
        "sources": "Sources",
        "source_ok": "working",
        "source_failing": "failing",
        "no_sources": "no sources running",
        "page": "Page {number} of {pages}",
        "previous": "Previous",
        "next": "Next",
        "timeline": "Tracking history",
        "no_timeline": "No checkpoint yet.",
        "when": "When",
        "place": "Place",
        "source": "Source",
        "event": "What the carrier says",
        "track_numbers": "Track numbers",
        "current": "current",
        "eta_history": "Estimated delivery over time",
        "no_eta": "No carrier has given an estimate yet.",
        "chart": "Estimated delivery windows by the day they were seen",
        "promised": "promised",
        "prot": "protection ends",
        "seen": "Seen",
        "estimate": "Estimate",
        "none": "none",
        "dispute": "Dispute message (paste it as it is, in English)",
        "copy_button": "Copy",
        "copied": "Copied",
        "evidence": "Evidence for a dispute",
        "evidence_pdf": "PDF",
        "add_order": "Add an order",
        "update_order": "Change this order",
        "order_id": "Order number",
        "ordered_on": "Order date",
        "paid_on": "Payment date",
        "order_title": "Title",
        "shop": "Shop",
        "track": "Track number (a new one becomes current)",
        "protection_until": "Protection ends on",
        "protection_days": "or protection lasts (days)",
        "promised_by": "Promised by",
        "shop_eta": "The shop's estimate (DATE or DATE..DATE)",
        "notes": "Notes",
        "came_from": "Came from",
        "add": "Add",
        "save": "Save",
        "close": "Close the order (no more warnings)",
        "reopen": "Watch it again",
        "mute": "Mute (warnings shown here, not pushed)",
        "unmute": "Unmute (push its warnings again)",
        "muted_badge": "muted",
        "muted_done": "Muted: its warnings are still shown here, but not pushed.",
        "unmuted_done": "Unmuted: its next warnings are pushed again.",
        "remove": "Remove",
        "remove_sure": "Yes, forget this order",
        "read_only": "Changes from this page need a token: set http.token in the configuration.",
        "added": "Order {id} added.",
        "saved": "Saved.",
        "closed_done": "Order closed.",
        "removed": "Order {id} removed.",
        "bad_form": "This form has expired; it was shown again, please send it once more.",
        "login": "Sign in",
        "token": "Token (http.token)",
        "wrong_token": "That is not the token.",
        "throttled": "Too many wrong tokens from here; wait a minute and try again.",
        "read_only_session": "Signed in with the read token: this page only shows; "
        "changes need http.token.",
        "logout": "Sign out",
        "back": "All orders",
        "not_found": "There is no order {id}.",
        "generated": "Generated {when} by parcel-monitor from the sources: {sources}.",
        "evidence_title": "Tracking evidence for order {id}",
        "paid": "Paid",
        "storage_until": "Kept for pick-up until",
        "pick_up_by": "Pick up by",
        "pick_up_by_short": "pick up by",
        "awaiting_track": "no track number yet",
        "unknown": "not checked yet",
        "final": "done",
        "updated_live": "updated",
    },
    "ru": {
        "title": "Посылки",
        "open": "Открытые",
        "closed": "Закрытые",
        "all": "Все",
        "search": "Номер заказа, трек-номер или название",
        "find": "Найти",
        "no_orders": "Здесь заказов нет.",
        "ordered": "Заказ от",
        "status": "Статус",
        "last_checkpoint": "Последнее событие",
        "eta": "Ожидаемая доставка",
        "shop_estimate": "оценка магазина",
        "protection": "Защита покупателя",
        "warnings": "Предупреждения",
        "no_warnings": "Предупреждений нет.",
        "sources": "Источники",
        "source_ok": "работает",
        "source_failing": "сбой",
        "no_sources": "источники не запущены",
        "page": "Страница {number} из {pages}",
        "previous": "Назад",
        "next": "Дальше",
        "timeline": "История отслеживания",
        "no_timeline": "Событий пока нет.",
        "when": "Когда",
        "place": "Место",
        "source": "Источник",
        "event": "Что сообщает служба доставки",
        "track_numbers": "Трек-номера",
        "current": "текущий",
        "eta_history": "Ожидаемая доставка со временем",
        "no_eta": "Службы доставки пока не называли срок.",
        "chart": "Ожидаемые сроки доставки по дням, когда они были получены",
        "promised": "обещано",
        "prot": "конец защиты",
        "seen": "Получено",
        "estimate": "Срок",
        "none": "нет",
        "dispute": "Текст спора (вставьте как есть, на английском)",
        "copy_button": "Копировать",
        "copied": "Скопировано",
        "evidence": "Доказательства для спора",
        "evidence_pdf": "PDF",
        "add_order": "Добавить заказ",
        "update_order": "Изменить заказ",
        "order_id": "Номер заказа",
        "ordered_on": "Дата заказа",
        "paid_on": "Дата оплаты",
        "order_title": "Название",
        "shop": "Магазин",
        "track": "Трек-номер (новый становится текущим)",
        "protection_until": "Защита до",
        "protection_days": "или защита длится (дней)",
        "promised_by": "Обещано до",
        "shop_eta": "Оценка магазина (ДАТА или ДАТА..ДАТА)",
        "notes": "Заметки",
        "came_from": "Откуда",
        "add": "Добавить",
        "save": "Сохранить",
        "close": "Закрыть заказ (больше без предупреждений)",
        "reopen": "Снова следить",
        "mute": "Без уведомлений (предупреждения здесь, но не присылать)",
        "unmute": "Снова присылать уведомления",
        "muted_badge": "без уведомлений",
        "muted_done": "Уведомления отключены: предупреждения видны здесь, но не присылаются.",
        "unmuted_done": "Уведомления включены: следующие предупреждения придут снова.",
        "remove": "Удалить",
        "remove_sure": "Да, забыть этот заказ",
        "read_only": "Чтобы менять заказы на этой странице, задайте http.token в настройках.",
        "added": "Заказ {id} добавлен.",
        "saved": "Сохранено.",
        "closed_done": "Заказ закрыт.",
        "removed": "Заказ {id} удалён.",
        "bad_form": "Форма устарела; она показана снова, отправьте её ещё раз.",
        "login": "Войти",
        "token": "Токен (http.token)",
        "wrong_token": "Это не тот токен.",
        "throttled": "Слишком много неверных токенов отсюда; подождите минуту и попробуйте снова.",
        "read_only_session": "Вход по токену только для чтения: здесь можно смотреть; "
        "для изменений нужен http.token.",
        "logout": "Выйти",
        "back": "Все заказы",
        "not_found": "Заказа {id} нет.",
        "generated": "Сформировано {when} программой parcel-monitor по данным источников: "
        "{sources}.",
        "evidence_title": "Данные отслеживания заказа {id}",
        "paid": "Оплачен",
        "storage_until": "Хранится в пункте выдачи до",
        "pick_up_by": "Забрать до",
        "pick_up_by_short": "забрать до",
        "awaiting_track": "трек-номера пока нет",
        "unknown": "ещё не проверялся",
        "final": "завершён",
        "updated_live": "обновлено",
    },
}


def pick_language(configured: Language | None, accept: str) -> Language:
    """The configured language, else the first of `Accept-Language` we speak, else English."""
    if configured is not None:
        return configured
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag  # type: ignore[return-value]
    return "en"


def state_text(state: str, lang: Language) -> str:
    if state in ("awaiting_track", "unknown"):
        return WORDS[lang][state]
    return STATUS_NAMES[lang][Status(state)]


def _plural(count: int, lang: Language, en: tuple[str, str], ru: tuple[str, str, str]) -> str:
    if lang == "en":
        return f"{count} {en[0] if count == 1 else en[1]}"
    tens, ones = count % 100, count % 10
    if ones == 1 and tens != 11:
        word = ru[0]
    elif 2 <= ones <= 4 and not 12 <= tens <= 14:
        word = ru[1]
    else:
        word = ru[2]
    return f"{count} {word}"


def span(delta: timedelta, lang: Language) -> str:
    """A duration in the largest whole unit: "5 days", "3 hours", "12 minutes"."""
    seconds = abs(delta.total_seconds())
    if seconds >= 86400:
        return _plural(int(seconds // 86400), lang, ("day", "days"), ("день", "дня", "дней"))
    if seconds >= 3600:
        return _plural(int(seconds // 3600), lang, ("hour", "hours"), ("час", "часа", "часов"))
    minutes = max(1, int(seconds // 60))
    return _plural(minutes, lang, ("minute", "minutes"), ("минуту", "минуты", "минут"))


def ago(delta: timedelta, lang: Language) -> str:
    return f"{span(delta, lang)} ago" if lang == "en" else f"{span(delta, lang)} назад"


def countdown(left: timedelta, lang: Language) -> str:
    """ "ends in 5 days", or "ended 2 days ago"."""
    if left.total_seconds() <= 0:
        return f"ended {ago(-left, lang)}" if lang == "en" else f"закончилась {ago(-left, lang)}"
    return f"ends in {span(left, lang)}" if lang == "en" else f"закончится через {span(left, lang)}"


def labels(lang: Language) -> dict[str, str]:
    """Everything a template may say: the page's words and the notification labels."""
    notify = LABELS[lang]
    return {
        **WORDS[lang],
        "next_steps": notify.next_steps,
        "form": notify.form,
        "promised_label": notify.promised,
        "protection_label": notify.protection,
    }
