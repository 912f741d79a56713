"""Every sentence a warning says, in English and Russian (DOMAIN.md's knowledge, as text).

One module holds all texts so they can be reviewed and translated in one place. The dispute
message itself is always English: the platform's dispute form wants it that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from monitor.model import OrderView, Status
from monitor.notify.languages import Language
from monitor.rules.ids import MAIL_IMPORT


@dataclass(frozen=True, slots=True)
class RuleText:
    headline: str
    steps: tuple[str, ...]
    # What the carrier shows, for the rules whose facts decide the next step; `{name}` fields
    # (here and in the steps) are filled by `fill` from the warning's facts.
    situation: str = ""


@dataclass(frozen=True, slots=True)
class Labels:
    order: str
    ordered: str
    track: str
    no_track: str
    status: str
    last_checkpoint: str
    eta: str
    promised: str
    protection: str
    next_steps: str
    dispute: str
    form: str
    form_answers: tuple[tuple[str, str], ...]
    wrong_place_problem: str  # the "Problem" answer when the number leads to another address
    digest_title: str
    critical: str
    test_title: str
    test_body: str


RULES: dict[Language, dict[str, RuleText]] = {
    "en": {
        "track_missing": RuleText(
            "No track number yet",
            (
                "Check the order status in the AliExpress app.",
                "Ask the seller in the order chat whether the parcel has shipped, and to which "
                "address.",
                "If it has not shipped, open a dispute before buyer protection ends.",
            ),
        ),
        "not_trackable": RuleText(
            "The track number is not being scanned",
            (
                "Look the track number up in a parcel-tracking service.",
                "No carrier has scanned it: that is usually the seller's side. Ask the seller in "
                "the order chat for a working track number.",
                "Open a dispute before buyer protection ends.",
            ),
        ),
        "eta_shifted": RuleText(
            "The estimated delivery date moved later",
            (
                "A delivery date that keeps moving points to transport or customs trouble.",
                "Watch the buyer-protection countdown on the order page.",
                "If the parcel will be late, ask the seller to extend buyer protection.",
            ),
        ),
        "stalled": RuleText(
            "No movement for a long time",
            (
                "Look the track number up in a parcel-tracking service.",
                "Contact the seller and the carrier with the track number and ask where the parcel "
                "is.",
            ),
        ),
        "customs_delay": RuleText(
            "Stuck in customs",
            (
                "Customs usually clears parcels within days: wait a little.",
                "Then contact the carrier with the track number; check whether customs asked for "
                "documents or a payment.",
            ),
        ),
        "stuck_at_post_office": RuleText(
            "Waiting at the post office",
            (
                "Find out from the track number which post office the parcel went to.",
                "Get that office's phone number from the central office and call it with the track "
                "number.",
                "Ask them to hand the parcel over, or to forward it if it went to the wrong "
                "office.",
            ),
        ),
        "overdue": RuleText(
            "Past the promised delivery date",
            (
                "Warn the seller in the order chat that you are opening a dispute.",
                'Open a dispute: Order management → "Open dispute" next to the order.',
                "Attach screenshots from mobile banking and from the tracking service, and paste "
                "the English message below.",
                'Insist on the platform\'s official refund, not a transfer "by card" outside it.',
            ),
        ),
        "overdue_eta": RuleText(
            "Past the estimated delivery date",
            (
                "Warn the seller in the order chat that you are opening a dispute.",
                'Open a dispute: Order management → "Open dispute" next to the order.',
                "Attach screenshots from mobile banking and from the tracking service, and paste "
                "the English message below.",
                'Insist on the platform\'s official refund, not a transfer "by card" outside it.',
            ),
        ),
        "protection_expiring": RuleText(
            "Buyer protection is running out",
            (
                "Ask the seller in the order chat to extend buyer protection (Order management → "
                "the order: the top of the page says until when a dispute can be opened).",
                "If the seller does not extend it, open the dispute now: once protection ends you "
                "no longer can.",
                "Attach screenshots from mobile banking and from the tracking service, and paste "
                "the English message below.",
                "If the seller sends proof of shipping instead, answer that protection is expiring "
                "and that the seller should extend it if the parcel really is coming.",
            ),
        ),
        "returning": RuleText(
            "The parcel is going back to the seller",
            (
                "The parcel will not reach you.",
                "Open a dispute and ask for a refund; paste the English message below.",
                'Insist on the platform\'s official refund, not a transfer "by card" outside it.',
            ),
        ),
        "delivered": RuleText(
            "Delivered",
            (
                "Confirm receipt in the app once you have the parcel.",
                "If it arrived empty or damaged, open a dispute instead (an empty parcel has its "
                "own option).",
            ),
        ),
    },
    "ru": {
        "track_missing": RuleText(
            "Трек-номера всё ещё нет",
            (
                "Проверьте статус заказа в приложении AliExpress.",
                "Спросите продавца в чате заказа, отправлена ли посылка и на какой адрес.",
                "Если посылка не отправлена, откройте спор до окончания защиты покупателя.",
            ),
        ),
        "not_trackable": RuleText(
            "Трек-номер не отслеживается",
            (
                "Проверьте трек-номер в сервисе отслеживания посылок.",
                "Ни одна служба доставки его не сканировала — обычно это проблема продавца. "
                "Попросите у продавца в чате заказа рабочий трек-номер.",
                "Откройте спор до окончания защиты покупателя.",
            ),
        ),
        "eta_shifted": RuleText(
            "Ожидаемая дата доставки сдвинулась",
            (
                "Дата доставки, которая всё время сдвигается, говорит о проблемах с перевозкой или "
                "на таможне.",
                "Следите за сроком защиты покупателя на странице заказа.",
                "Если посылка опаздывает, попросите продавца продлить защиту покупателя.",
            ),
        ),
        "stalled": RuleText(
            "Посылка давно не движется",
            (
                "Проверьте трек-номер в сервисе отслеживания посылок.",
                "Свяжитесь с продавцом и со службой доставки, назовите трек-номер и спросите, где "
                "посылка.",
            ),
        ),
        "customs_delay": RuleText(
            "Посылка задерживается на таможне",
            (
                "Обычно таможня выпускает посылки за несколько дней — немного подождите.",
                "Затем свяжитесь со службой доставки по трек-номеру и проверьте, не запросила ли "
                "таможня документы или оплату.",
            ),
        ),
        "stuck_at_post_office": RuleText(
            "Посылка лежит в почтовом отделении",
            (
                "По трек-номеру узнайте, в какое отделение пришла посылка.",
                "Узнайте телефон этого отделения в центральном офисе и позвоните туда с "
                "трек-номером.",
                "Попросите выдать посылку или переслать её в нужное отделение, если её отправили "
                "не туда.",
            ),
        ),
        "overdue": RuleText(
            "Прошла обещанная дата доставки",
            (
                "Предупредите продавца в чате заказа, что открываете спор.",
                "Откройте спор: «Управление заказами» → «Открыть спор» рядом с заказом.",
                "Приложите скриншоты из мобильного банка и из сервиса отслеживания и вставьте "
                "английский текст ниже.",
                "Настаивайте на официальном возврате через платформу, а не на переводе «на карту» "
                "в обход неё.",
            ),
        ),
        "overdue_eta": RuleText(
            "Прошла ожидаемая дата доставки",
            (
                "Предупредите продавца в чате заказа, что открываете спор.",
                "Откройте спор: «Управление заказами» → «Открыть спор» рядом с заказом.",
                "Приложите скриншоты из мобильного банка и из сервиса отслеживания и вставьте "
                "английский текст ниже.",
                "Настаивайте на официальном возврате через платформу, а не на переводе «на карту» "
                "в обход неё.",
            ),
        ),
        "protection_expiring": RuleText(
            "Защита покупателя скоро закончится",
            (
                "Попросите продавца в чате заказа продлить защиту покупателя («Управление "
                "заказами» → заказ: вверху страницы написано, до какого срока можно открыть спор).",
                "Если продавец не продлевает защиту, откройте спор сейчас: после её окончания это "
                "будет невозможно.",
                "Приложите скриншоты из мобильного банка и из сервиса отслеживания и вставьте "
                "английский текст ниже.",
                "Если продавец вместо этого пришлёт доказательство отправки, ответьте, что защита "
                "заканчивается и, если посылка действительно в пути, пусть продавец её продлит.",
            ),
        ),
        "returning": RuleText(
            "Посылка возвращается продавцу",
            (
                "Посылка до вас не дойдёт.",
                "Откройте спор и требуйте возврата денег; вставьте английский текст ниже.",
                "Настаивайте на официальном возврате через платформу, а не на переводе «на карту» "
                "в обход неё.",
            ),
        ),
        "delivered": RuleText(
            "Посылка доставлена",
            (
                "Подтвердите получение в приложении, когда заберёте посылку.",
                "Если посылка пришла пустой или повреждённой, вместо этого откройте спор (для "
                "пустой посылки есть отдельный вариант).",
            ),
        ),
    },
}

# --- the last mile and the traps (DOMAIN.md, second set) -------------------------------------

RULES["en"].update(
    {
        "protection_gap": RuleText(
            "Buyer protection ends before the parcel is due",
            (
                "Ask the seller in the order chat now to extend buyer protection to at least "
                "{extend_to} (the estimate plus a few days' margin).",
                "If the seller refuses, open a dispute before protection ends "
                "({protection_until}); paste the English message below.",
            ),
            situation="The carrier expects the parcel by {eta}, and buyer protection ends "
            "{protection_until}: if the parcel is late, you can no longer open a dispute.",
        ),
        "storage_ending": RuleText(
            "Pick the parcel up soon",
            (
                "Pick it up by {by} at the {place}: bring your passport and the track number "
                "{track}.",
                "If you cannot make it, ask the office to extend storage; otherwise the parcel "
                "goes back to the seller.",
            ),
            situation="The parcel waits at the {place}; it is kept until {by}.",
        ),
        "storage_ending_locker": RuleText(
            "Pick the parcel up soon",
            (
                "Pick it up by {by} at the {place}: open the cell with the code from the "
                "carrier's SMS or app (track number {track}).",
                "A parcel locker cannot keep it longer and has no counter to ask: if you cannot "
                "make it, ask the carrier's support with the track number at once; otherwise the "
                "parcel goes back to the seller.",
            ),
            situation="The parcel waits at the {place}; it is kept until {by}.",
        ),
        "wrong_destination": RuleText(
            "The track number leads somewhere else",
            (
                "The number leads elsewhere: a wrong or someone else's (fake) track number, or a "
                "wrong address.",
                "Ask the seller in the order chat, with a screenshot of the tracking page, where "
                "the parcel is going.",
                "If it is not your parcel, open a dispute now and paste the English message below.",
            ),
            situation="The carrier shows the parcel {where} {shown}; your settings say {expected}.",
        ),
        "delivered_elsewhere": RuleText(
            "Delivered, but not to you: do not confirm receipt",
            (
                "Do not confirm receipt in the app: that would end your buyer protection.",
                "Ask the seller in the order chat, with a screenshot of the tracking page, why "
                "the parcel was delivered there.",
                "If it is not your parcel, open a dispute now and paste the English message below.",
            ),
            situation="The carrier says the parcel was delivered, but elsewhere: {where} {shown}; "
            "your settings say {expected}.",
        ),
        "action_required": RuleText(
            "The carrier is waiting for you",
            (
                "Do it on the carrier's site or app with the track number {track}.",
                "Otherwise the parcel is returned to the seller.",
            ),
            situation="{what}: {scan}",
        ),
        "delivery_failed": RuleText(
            "A delivery attempt failed",
            (
                "Contact the office or the courier with the track number {track}.",
                "Arrange a new attempt, or pick the parcel up at the office.",
                "Check your address and phone number in the AliExpress app.",
            ),
            situation="{scan}",
        ),
    }
)
RULES["ru"].update(
    {
        "protection_gap": RuleText(
            "Защита покупателя закончится раньше, чем придёт посылка",
            (
                "Попросите продавца в чате заказа прямо сейчас продлить защиту покупателя хотя бы "
                "до {extend_to} (ожидаемая дата плюс несколько дней запаса).",
                "Если продавец откажется, откройте спор до окончания защиты ({protection_until}); "
                "вставьте английский текст ниже.",
            ),
            situation="Служба доставки ожидает посылку до {eta}, а защита покупателя "
            "заканчивается {protection_until}: если посылка опоздает, открыть спор будет уже "
            "нельзя.",
        ),
        "storage_ending": RuleText(
            "Заберите посылку",
            (
                "Заберите её до {by}: {place}; возьмите паспорт и трек-номер {track}.",
                "Если не успеваете, попросите отделение продлить срок хранения, иначе посылка "
                "уйдёт обратно продавцу.",
            ),
            situation="Посылка ждёт: {place}; срок хранения — до {by}.",
        ),
        "storage_ending_locker": RuleText(
            "Заберите посылку",
            (
                "Заберите её до {by}: {place}; ячейку откроет код из SMS или приложения службы "
                "доставки (трек-номер {track}).",
                "Почтомат не продлевает хранение, и спросить там некого: если не успеваете, сразу "
                "обратитесь в поддержку службы доставки с трек-номером, иначе посылка уйдёт "
                "обратно продавцу.",
            ),
            situation="Посылка ждёт: {place}; срок хранения — до {by}.",
        ),
        "wrong_destination": RuleText(
            "Трек-номер ведёт не к вам",
            (
                "Номер ведёт в другое место: это неверный или чужой (поддельный) трек-номер либо "
                "неверный адрес.",
                "Спросите продавца в чате заказа, куда идёт посылка, и приложите скриншот "
                "страницы отслеживания.",
                "Если это не ваша посылка, сразу откройте спор и вставьте английский текст ниже.",
            ),
            situation="Служба доставки показывает: посылка {where} {shown}; в ваших настройках — "
            "{expected}.",
        ),
        "delivered_elsewhere": RuleText(
            "Вручена, но не вам: не подтверждайте получение",
            (
                "Не подтверждайте получение в приложении: это закончит защиту покупателя.",
                "Спросите продавца в чате заказа, почему посылка вручена там, и приложите "
                "скриншот страницы отслеживания.",
                "Если это не ваша посылка, сразу откройте спор и вставьте английский текст ниже.",
            ),
            situation="Служба доставки пишет, что посылка вручена, но в другом месте: {where} "
            "{shown}; в ваших настройках — {expected}.",
        ),
        "action_required": RuleText(
            "Служба доставки ждёт от вас действий",
            (
                "Сделайте это на сайте или в приложении службы доставки по трек-номеру {track}.",
                "Иначе посылку вернут продавцу.",
            ),
            situation="{what}: {scan}",
        ),
        "delivery_failed": RuleText(
            "Неудачная попытка вручения",
            (
                "Свяжитесь с отделением или курьером, назовите трек-номер {track}.",
                "Договоритесь о новой попытке доставки или заберите посылку в отделении.",
                "Проверьте адрес и телефон в приложении AliExpress.",
            ),
            situation="{scan}",
        ),
    }
)

POINT_NAMES: dict[Language, dict[str, str]] = {
    "en": {"office": "post office", "locker": "parcel locker", "pickup_point": "pick-up point"},
    "ru": {"office": "почтовое отделение", "locker": "почтомат", "pickup_point": "пункт выдачи"},
}

WHERE_NAMES: dict[Language, dict[str, str]] = {
    "en": {
        "addressed": "addressed to",
        "arrived": "arrived at",
        "out_for_delivery": "out for delivery at",
        "delivery_failed": "failed to be delivered at",
        "delivered": "delivered at",
    },
    "ru": {
        "addressed": "адресована в",
        "arrived": "прибыла в",
        "out_for_delivery": "передана курьеру в",
        "delivery_failed": "не вручена в",
        "delivered": "вручена в",
    },
}

FIELD_NAMES: dict[Language, dict[str, str]] = {
    "en": {"country": "country", "postcode": "postcode", "none": "not set"},
    "ru": {"country": "страна", "postcode": "индекс", "none": "не указано"},
}

ACTION_NAMES: dict[Language, dict[str, str]] = {
    "en": {
        "customs_documents": "Customs waits for documents from you",
        "passport_data": "Customs waits for your passport data",
        "duty_payment": "A customs duty is waiting to be paid",
        "address": "The carrier asks you to confirm the address",
        "other": "The carrier waits for you to act",
    },
    "ru": {
        "customs_documents": "Таможня ждёт от вас документы",
        "passport_data": "Таможня ждёт ваши паспортные данные",
        "duty_payment": "Нужно оплатить таможенную пошлину",
        "address": "Служба доставки просит уточнить адрес",
        "other": "Служба доставки ждёт ваших действий",
    },
}


def _local(value: str, zone: tzinfo | None) -> str:
    """A fact's timestamp as people read it, in the display zone like the order's other dates."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) <= 10:  # a day
        return value
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def fill_values(
    view: OrderView, facts: dict[str, str], lang: Language, zone: tzinfo | None = None
) -> dict[str, str]:
    """The facts of a warning as the words its situation and steps are filled with."""
    values = {key: _local(value, zone) for key, value in facts.items()}
    values["track"] = view.order.track or ""
    if "point" in facts:
        point = POINT_NAMES[lang].get(facts["point"], facts["point"])
        postcode, location = facts.get("postcode", ""), facts.get("location", "")
        if location:
            values["place"] = f"{point} — {location}"
            if postcode and postcode not in location:
                values["place"] += f" ({postcode})"
        else:
            values["place"] = f"{point} {postcode}".strip()
        # The carrier's own day is the last day to come; else the moment storage runs out.
        values["by"] = facts.get("carrier_date") or values.get("storage_ends", "")
    if "shown" in facts:
        values["where"] = WHERE_NAMES[lang].get(facts.get("where", ""), "")
        field = facts.get("field", "postcode")
        expected = facts.get("buyer_country" if field == "country" else "buyer_postcodes", "")
        values["expected"] = f"{FIELD_NAMES[lang][field]} {expected or FIELD_NAMES[lang]['none']}"
    if "action" in facts:
        values["what"] = ACTION_NAMES[lang].get(facts["action"], ACTION_NAMES[lang]["other"])
    scan = [values.get("at", ""), facts.get("text", ""), facts.get("location", "")]
    values["scan"] = ", ".join(part for part in scan if part)
    return values


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(_Blank(values))


LABELS: dict[Language, Labels] = {
    "en": Labels(
        order="Order",
        ordered="Ordered",
        track="Track number",
        no_track="none yet",
        status="Status",
        last_checkpoint="Last checkpoint",
        eta="Estimated delivery",
        promised="Promised by",
        protection="Buyer protection ends",
        next_steps="What to do",
        dispute="Dispute message (paste it as it is, in English)",
        form="Dispute form",
        form_answers=(
            ("Expected resolution", "Refund"),
            ("Did you receive the goods?", "No"),
            ("Problem", "Delivery time is expiring"),
            ("Buyer's evidence", "screenshots from mobile banking and from the tracking service"),
        ),
        wrong_place_problem="The parcel was sent to another address (the track number leads "
        "elsewhere)",
        digest_title="parcel-monitor: {count} updates",
        critical="CRITICAL: ",
        test_title="parcel-monitor: test notification",
        test_body="If you can read this, parcel-monitor can reach you through this channel.",
    ),
    "ru": Labels(
        order="Заказ",
        ordered="Дата заказа",
        track="Трек-номер",
        no_track="пока нет",
        status="Статус",
        last_checkpoint="Последнее событие",
        eta="Ожидаемая доставка",
        promised="Обещано до",
        protection="Защита покупателя до",
        next_steps="Что делать",
        dispute="Текст спора (вставьте как есть, на английском)",
        form="Форма спора",
        form_answers=(
            ("Ожидаемое решение", "Возврат средств"),
            ("Вы получили товар?", "Нет"),
            ("Проблема", "Истекает срок доставки"),
            (
                "Доказательства покупателя",
                "скриншоты из мобильного банка и из сервиса отслеживания",
            ),
        ),
        wrong_place_problem="Посылка отправлена по другому адресу (трек-номер ведёт не к вам)",
        digest_title="parcel-monitor: обновлений — {count}",
        critical="СРОЧНО: ",
        test_title="parcel-monitor: проверка уведомлений",
        test_body="Если вы это читаете, parcel-monitor может достучаться до вас по этому каналу.",
    ),
}

STATUS_NAMES: dict[Language, dict[Status, str]] = {
    "en": {
        Status.NOT_FOUND: "not found",
        Status.INFO_RECEIVED: "information received",
        Status.IN_TRANSIT: "in transit",
        Status.CUSTOMS: "in customs",
        Status.AT_POST_OFFICE: "at the post office",
        Status.OUT_FOR_DELIVERY: "out for delivery",
        Status.DELIVERY_FAILED: "delivery failed",
        Status.DELIVERED: "delivered",
        Status.RETURNING: "returning to the sender",
        Status.EXCEPTION: "delivery problem",
    },
    "ru": {
        Status.NOT_FOUND: "не найдена",
        Status.INFO_RECEIVED: "получены данные об отправлении",
        Status.IN_TRANSIT: "в пути",
        Status.CUSTOMS: "на таможне",
        Status.AT_POST_OFFICE: "в почтовом отделении",
        Status.OUT_FOR_DELIVERY: "передана курьеру",
        Status.DELIVERY_FAILED: "неудачная попытка вручения",
        Status.DELIVERED: "доставлена",
        Status.RETURNING: "возвращается отправителю",
        Status.EXCEPTION: "проблема с доставкой",
    },
}

STATE_NAMES: dict[Language, dict[str, str]] = {
    "en": {
        "unknown": "not checked yet",
        "awaiting_track": "awaiting track number",
        "unfollowed": "no source follows it",
    },
    "ru": {
        "unknown": "ещё не проверен",
        "awaiting_track": "ждём трек-номер",
        "unfollowed": "его не отслеживает ни один источник",
    },
}
"""The states before any carrier has said anything (MQTT's `unknown` and `awaiting_track`)."""


@dataclass(frozen=True, slots=True)
class Screen:
    """What `list`, `show`, `check` and `demo` print around the data."""

    columns: tuple[str, str, str, str, str, str, str, str]
    closed: str
    no_orders: str
    order: str
    ordered: str
    paid: str
    protection_ends: str
    promised_by: str
    shop_estimate: str
    tracks: str
    none_yet: str
    status: str
    checkpoints: str
    estimates: str
    no_estimate: str
    warnings: str
    no_warnings: str
    local_time: str
    nothing_changed: str
    undelivered: str
    demo_intro: str
    demo_order: str
    demo_quiet: str
    demo_total: str
    # Where an order came from (`Order.origin`): the FROM column's words, `show`'s line.
    typed_in: str
    origins: dict[str, str]
    came_from: str
    found_in_mail: str
    # An order the buyer muted (`Order.muted`): `list`'s mark and `show`'s line.
    muted: str
    muted_line: str


SCREEN: dict[Language, Screen] = {
    "en": Screen(
        columns=(
            "ORDER",
            "TITLE",
            "TRACK",
            "STATUS",
            "ETA",
            "PROTECTION ENDS",
            "WARNINGS",
            "FROM",
        ),
        closed="closed",
        no_orders="no orders yet; add one with `parcel-monitor add ORDER_ID --ordered YYYY-MM-DD`",
        order="Order",
        ordered="ordered",
        paid="paid",
        protection_ends="buyer protection ends",
        promised_by="promised by",
        shop_estimate="the shop's estimate",
        tracks="track numbers",
        none_yet="none yet",
        status="status",
        checkpoints="Checkpoints",
        estimates="Estimated delivery",
        no_estimate="no estimate",
        warnings="Warnings",
        no_warnings="none",
        local_time="local time",
        nothing_changed="nothing changed",
        undelivered="Notifications not delivered yet:",
        demo_intro="parcel-monitor demo: replaying the bundled example orders on a simulated "
        "clock.\nNothing is stored and nothing is sent; this is what the daemon would tell you.\n",
        demo_order="order {order}, {start} → {end}",
        demo_quiet="(no warnings: all went well)",
        demo_total="{total} warnings from {orders} example orders. "
        "Add your own with `parcel-monitor add --help`.",
        typed_in="you",
        origins={"mail": "mail"},
        came_from="came from your {origin}",
        found_in_mail="Found in your mail:",
        muted="muted",
        muted_line="muted: warnings are recorded but not pushed (`parcel-monitor unmute {order}`)",
    ),
    "ru": Screen(
        columns=(
            "ЗАКАЗ",
            "НАЗВАНИЕ",
            "ТРЕК",
            "СТАТУС",
            "ОЖИДАЕТСЯ",
            "ЗАЩИТА ДО",
            "ПРЕДУПРЕЖДЕНИЙ",
            "ОТКУДА",
        ),
        closed="закрыт",
        no_orders="заказов пока нет; добавьте заказ: "
        "`parcel-monitor add НОМЕР_ЗАКАЗА --ordered ГГГГ-ММ-ДД`",
        order="Заказ",
        ordered="заказан",
        paid="оплачен",
        protection_ends="защита покупателя до",
        promised_by="обещано до",
        shop_estimate="срок по данным магазина",
        tracks="трек-номера",
        none_yet="пока нет",
        status="статус",
        checkpoints="События",
        estimates="Ожидаемая доставка",
        no_estimate="срока нет",
        warnings="Предупреждения",
        no_warnings="нет",
        local_time="местное время",
        nothing_changed="изменений нет",
        undelivered="Ещё не доставленные уведомления:",
        demo_intro="parcel-monitor demo: примеры заказов на ускоренных часах.\n"
        "Ничего не сохраняется и не отправляется; так предупреждал бы демон.\n",
        demo_order="заказ {order}, {start} → {end}",
        demo_quiet="(предупреждений нет: всё прошло хорошо)",
        demo_total="Предупреждений: {total}, примеров заказов: {orders}. "
        "Свои заказы: `parcel-monitor add --help`.",
        typed_in="вы",
        origins={"mail": "почта"},
        came_from="откуда: {origin}",
        found_in_mail="Найдено в вашей почте:",
        muted="без уведомлений",
        muted_line="без уведомлений: предупреждения записываются, но не отправляются "
        "(`parcel-monitor unmute {order}`)",
    ),
}


LINES: dict[Language, dict[str, str]] = {
    "en": {
        "unfollowed": "nothing follows {number}: {why}; {fix}",
        "no_source_on": "no tracking source is turned on",
        "no_source_reads": "none of the sources turned on ({sources}) reads this format",
        "add_source": "add a [sources.{name}] section",
        "add_source_or": " (or {others})",
        "no_plugin_reads": "no installed source plugin reads this format",
        "order_note": "order {order}: {note}",
        "outbox_summary": "notifications: {waiting} waiting to be sent, {failed} failed",
        "outbox_retry_hint": " (`parcel-monitor notify retry` sends the failed ones again)",
        "outbox_line": "  {state:<8} {rule} (attempts: {attempts}){error}",
        "state_pending": "waiting",
        "state_failed": "failed",
        "requeued": "{count} failed notification(s) queued again; the running daemon sends them",
        "found": "{number} ({source}): {status}{eta}",
        "found_eta": ", expected {earliest} to {latest}",
        "handover": "  continues as {number}",
        "order_added": "order {order} added",
        "order_updated": "order {order} changed: {changed}",
        "order_removed": "order {order} removed",
        "track_assigned": "order {order}: track number {number}",
        "track_handed_over": "order {order}: track number {number} (was {previous})",
        "checkpoints_added": "{number}: new checkpoints: {texts}",
        "status_changed": "order {order}: {old} → {new}",
        "eta_changed": "order {order}: estimated delivery {old} → {new}",
        "source_failed": "source {source} failed: {reason}",
        "source_recovered": "source {source} works again (it failed for {minutes} min)",
        "none": "none",
        "demo_heading": "━━ {name}",
    },
    "ru": {
        "unfollowed": "номер {number} никто не отслеживает: {why}; {fix}",
        "no_source_on": "не включён ни один источник отслеживания",
        "no_source_reads": "ни один из включённых источников ({sources}) не читает такой формат",
        "add_source": "добавьте раздел [sources.{name}]",
        "add_source_or": " (или {others})",
        "no_plugin_reads": "ни один установленный модуль источника не читает такой формат",
        "order_note": "заказ {order}: {note}",
        "outbox_summary": "уведомления: ждут отправки — {waiting}, не доставлены — {failed}",
        "outbox_retry_hint": " (`parcel-monitor notify retry` отправит недоставленные ещё раз)",
        "outbox_line": "  {state:<12} {rule} (попыток: {attempts}){error}",
        "state_pending": "ждёт",
        "state_failed": "не доставлено",
        "requeued": "недоставленных уведомлений снова в очереди: {count}; их отправит "
        "работающий демон",
        "found": "{number} ({source}): {status}{eta}",
        "found_eta": ", ожидается с {earliest} по {latest}",
        "handover": "  дальше под номером {number}",
        "order_added": "заказ {order} добавлен",
        "order_updated": "заказ {order} изменён: {changed}",
        "order_removed": "заказ {order} удалён",
        "track_assigned": "заказ {order}: трек-номер {number}",
        "track_handed_over": "заказ {order}: трек-номер {number} (был {previous})",
        "checkpoints_added": "{number}: новые события: {texts}",
        "status_changed": "заказ {order}: {old} → {new}",
        "eta_changed": "заказ {order}: ожидаемая доставка {old} → {new}",
        "source_failed": "источник {source} не ответил: {reason}",
        "source_recovered": "источник {source} снова работает (не работал {minutes} мин)",
        "none": "нет",
        "demo_heading": "━━ {name}",
    },
}
"""The CLI's own lines (`list`, `show`, `check`, `track`, `notify retry`), in both languages."""


# --- the English dispute message ------------------------------------------------------------

DISPUTE_RULES = frozenset(
    {
        "protection_expiring",
        "overdue",
        "returning",
        "track_missing",
        "not_trackable",
        "protection_gap",
        "wrong_destination",
    }
)
"""The warnings whose next step is a dispute: they carry the ready-to-paste message."""

_WRONG_PLACE = frozenset({"wrong_destination", "delivered_elsewhere"})

DISPUTE_HAPPENED: dict[str, str] = {
    "track_missing": "The seller has not provided a track number, and the order does not appear "
    "to have been shipped.",
    "not_trackable": "No carrier has scanned the track number the seller provided; the parcel "
    "does not appear to have been handed over for delivery.",
    "overdue": "The delivery date the seller promised ({deadline}) has passed and the parcel has "
    "not been delivered.",
    "overdue_eta": "The estimated delivery date ({deadline}) has passed and the parcel has not "
    "been delivered.",
    "protection_expiring": "The parcel has not been delivered, and buyer protection for this "
    "order ends on {protection_until}.",
    "returning": "According to the tracking history, the parcel is being returned to the sender "
    "and will not reach me.",
    # --- the last mile and the traps ---
    "protection_gap": "The carrier's own delivery estimate runs until {eta}, and buyer "
    "protection for this order ends on {protection_until}: if the parcel is late, I can no longer "
    "open a dispute. Please extend buyer protection past {extend_to}, or refund the order.",
    "delivered_elsewhere": "The tracking history of this track number shows the parcel "
    "{where_en} {shown}, which is not my address ({expected_en}). The track number does not lead "
    "to me: it is a wrong or someone else's track number, or the parcel was sent to a wrong "
    "address.",
    "wrong_destination": "The tracking history of this track number shows the parcel {where_en} "
    "{shown}, which is not my address ({expected_en}). The track number does not lead to me: "
    "it is a wrong or someone else's track number, or the parcel was sent to a wrong address.",
}

DISPUTE_TEMPLATE = """\
Hello,
I have not received this order.
Order number: {order_id}
Order date: {order_date}
Track number: {track}
{happened}
I request a full refund through the platform. Screenshots of the payment and of the tracking \
history are attached."""

NO_TRACK_EN = "none (the seller has not provided one)"


def text_key(rule: str, view: OrderView, facts: dict[str, str]) -> str:
    """Which text speaks for a warning: an overdue carrier's estimate is not a broken promise.

    The overdue rule checks the shop's promise when there is one, else the carrier's estimate;
    its `deadline` fact says which day it checked.
    """
    if rule == "delivered" and "shown" in facts:  # delivered, but at another place
        return "delivered_elsewhere"
    if rule == "storage_ending" and facts.get("point") == "locker":  # no office to ask
        return "storage_ending_locker"
    if rule == MAIL_IMPORT and facts.get("found") == "a new track number":
        return MAIL_IMPORT_TRACK
    promised = view.order.promised_by
    if rule == "overdue" and (promised is None or facts.get("deadline", "")[:10] != str(promised)):
        return "overdue_eta"
    return rule


def leads_to_dispute(rule: str, view: OrderView, facts: dict[str, str]) -> bool:
    """Whether a warning's next step is a dispute, so it carries the English message."""
    return rule in DISPUTE_RULES or text_key(rule, view, facts) in DISPUTE_HAPPENED


def form_answers(lang: Language, key: str) -> tuple[tuple[str, str], ...]:
    """The dispute form's answers; "Problem" fits the warning (a number leading elsewhere is
    not a delivery time expiring)."""
    labels = LABELS[lang]
    if key not in _WRONG_PLACE:
        return labels.form_answers
    problem = labels.form_answers[2][0]
    return tuple(
        (question, labels.wrong_place_problem if question == problem else answer)
        for question, answer in labels.form_answers
    )


def dispute_text(rule: str, view: OrderView, facts: dict[str, str]) -> str:
    """The English message to paste into the dispute form (DOMAIN.md: number, date, track)."""
    order = view.order
    values = {"deadline": "", "protection_until": "", **facts}
    if order.protection_until is not None and not facts.get("protection_until"):
        values["protection_until"] = order.protection_until.date().isoformat()
    # Facts carry full timestamps; the seller needs the day.
    values = {key: _day_of(value) for key, value in values.items()}
    if "shown" in facts:  # the evidence: what the carrier shows against the buyer's address
        words = fill_values(view, facts, "en")
        values["where_en"], values["expected_en"] = words["where"], words["expected"]
    return DISPUTE_TEMPLATE.format(
        order_id=order.id,
        order_date=order.ordered_at.date().isoformat(),
        track=order.track or NO_TRACK_EN,
        happened=fill(DISPUTE_HAPPENED[text_key(rule, view, facts)], values),
    )


def _day_of(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return value
    return value[:10]


# --- the short English text the rule engine stores with each warning --------------------------


def describe(rule: str, view: OrderView, facts: dict[str, str]) -> tuple[str, str]:
    """A short English title and body for the ledger, the log and the replay output (the rule
    engine's `Describer`, handed to it where the pipeline is built).

    Notifications are rendered again at send time (`monitor.notify.render`), in the configured
    language and with the order's state as it is then.
    """
    order, tracking = view.order, view.tracking
    text = RULES["en"][text_key(rule, view, facts)]
    name = f"{order.id}" + (f" ({order.title})" if order.title else "")
    lines = [f"Order {name}"]
    if order.track:
        lines.append(f"Track number: {order.track}")
    if tracking.status:
        lines.append(f"Status: {tracking.status.value}")
    cp = tracking.last_checkpoint
    if cp is not None:
        place = f", {cp.location}" if cp.location else ""
        lines.append(f"Last checkpoint: {cp.at.isoformat()} {cp.text}{place}")
    if tracking.eta:
        lines.append(f"Estimated delivery: {tracking.eta}")
    if order.promised_by:
        lines.append(f"Promised by: {order.promised_by.isoformat()}")
    if order.protection_until:
        lines.append(f"Buyer protection ends: {order.protection_until.isoformat()}")
    for key, value in facts.items():
        lines.append(f"{key.replace('_', ' ')}: {value}")
    values = fill_values(view, facts, "en")
    if text.situation:
        lines += ["", fill(text.situation, values)]
    lines.append("")
    lines.append(f"What to do: {' '.join(fill(step, values) for step in text.steps)}")
    if leads_to_dispute(rule, view, facts):
        lines += ["", "Dispute message:", dispute_text(rule, view, facts)]
    return f"{text.headline}: order {order.id}", "\n".join(lines)


# --- the e-mail intake (monitor.mail): an info notice, muted like any rule ---------------------

# `facts`: found ("a new order" / "a new track number"), mail (its subject), from, order_id.
MAIL_IMPORT_TRACK = "mail_import_track"  # the same notice for a number added to a known order
RULES["en"][MAIL_IMPORT] = RuleText(
    "New order found in your mail",
    (
        "Nothing to do: the order is watched from now on.",
        "If the mail was not about your order, remove it: `parcel-monitor remove {order_id}`.",
    ),
    situation="From the mail “{mail}” ({from}).",
)
RULES["en"][MAIL_IMPORT_TRACK] = RuleText(
    "New track number found in your mail",
    (
        "Nothing to do: the number is watched from now on.",
        "If the mail was not about your order, remove it: `parcel-monitor remove {order_id}`.",
    ),
    situation="From the mail “{mail}” ({from}): track number {track numbers}.",
)
RULES["ru"][MAIL_IMPORT] = RuleText(
    "Новый заказ найден в вашей почте",
    (
        "Ничего делать не нужно: заказ теперь под наблюдением.",
        "Если письмо было не о вашем заказе, удалите заказ: `parcel-monitor remove {order_id}`.",
    ),
    situation="Из письма «{mail}» ({from}).",
)
RULES["ru"][MAIL_IMPORT_TRACK] = RuleText(
    "Новый трек-номер найден в вашей почте",
    (
        "Ничего делать не нужно: номер теперь под наблюдением.",
        "Если письмо было не о вашем заказе, удалите заказ: `parcel-monitor remove {order_id}`.",
    ),
    situation="Из письма «{mail}» ({from}): трек-номер {track numbers}.",
)
