"""How orders, timelines, warnings and events look on a terminal (the CLI's printing).

The terminal speaks the configured language and shows every time in the one display zone
(`Settings.zone()`); the JSON shapes are `monitor.views.data`'s.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from monitor.events import (
    Alert,
    CheckpointsAdded,
    EtaChanged,
    Event,
    OrderAdded,
    OrderRemoved,
    OrderUpdated,
    SourceFailed,
    SourceRecovered,
    StatusChanged,
    TrackAssigned,
    WarningRaised,
)
from monitor.model import OrderView, Status
from monitor.notify.languages import Language
from monitor.notify.render import render
from monitor.notify.texts import LINES, SCREEN, STATUS_NAMES
from monitor.routing import Coverage
from monitor.scenario import Scenario
from monitor.store import MailRecord
from monitor.views.data import Timeline
from monitor.views.state import state_name

_MARK = {"info": "ℹ", "warning": "⚠", "critical": "‼"}


def when(value: datetime, zone: tzinfo | None) -> str:
    """A moment in the display zone (None: the system's)."""
    try:
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"
    except OverflowError:  # a date at the edge of the calendar: as it was given, with its offset
        return f"{value:%Y-%m-%d %H:%M} UTC{_offset(value)}"


def checkpoint_when(value: datetime, zone: tzinfo | None, lang: Language = "en") -> str:
    """A scan's moment in the display zone, so a journey across zones never seems to run
    backwards; the scan's own local time follows when its zone is another."""
    try:
        shown = value.astimezone(zone)
    except OverflowError:
        return when(value, zone)
    text = f"{shown:%Y-%m-%d %H:%M}"
    if value.utcoffset() != shown.utcoffset():
        text += f" ({SCREEN[lang].local_time} {value:%H:%M} UTC{_offset(value)})"
    return text


def _offset(value: datetime) -> str:
    minutes = int((value.utcoffset() or timedelta()).total_seconds()) // 60
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def unfollowed_text(number: str, coverage: Coverage, lang: Language = "en") -> str | None:
    """Plain words when no turned-on source can follow `number`, with what would; else None."""
    if coverage.followers(number):
        return None
    words = LINES[lang]
    could = coverage.would_follow(number)
    if not coverage.enabled:
        why = words["no_source_on"]
    else:
        why = words["no_source_reads"].format(sources=", ".join(coverage.enabled))
    if could:
        fix = words["add_source"].format(name=could[0])
        if could[1:]:
            fix += words["add_source_or"].format(others=", ".join(could[1:]))
    else:
        fix = words["no_plugin_reads"]
    return words["unfollowed"].format(number=number, why=why, fix=fix)


def print_order_table(
    views: Sequence[OrderView],
    warnings: Mapping[str, int],
    lang: Language = "en",
    zone: tzinfo | None = None,
    coverage: Coverage | None = None,
) -> None:
    screen = SCREEN[lang]
    if not views:
        print(screen.no_orders)
        return
    rows: list[tuple[str, ...]] = [screen.columns]
    for view in views:
        order, tracking = view.order, view.tracking
        status = state_name(view, lang, coverage)
        if order.closed:
            status += f" ({screen.closed})"
        if order.muted:
            status += f" ({screen.muted})"
        rows.append(
            (
                order.id,
                order.title[:28],
                order.track or "-",
                status,
                str(tracking.eta) if tracking.eta else "-",
                when(order.protection_until, zone) if order.protection_until else "-",
                str(warnings.get(order.id, 0)),
                origin_word(order.origin, lang),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    notes = unfollowed_notes(views, coverage, lang)
    if notes:
        print("", *notes, sep="\n")


def origin_word(origin: str, lang: Language = "en") -> str:
    """The FROM column: `mail` for an order the e-mail intake made, `you` for one typed in."""
    screen = SCREEN[lang]
    if not origin:
        return screen.typed_in
    kind = origin.partition(":")[0]
    return screen.origins.get(kind, kind)


def origin_text(origin: str, lang: Language = "en") -> str:
    """The whole origin, its stored kind (`mail: <subject> (...)`) said in the reader's language;
    the rest (the mail's own subject and sender) as it was."""
    kind, colon, rest = origin.partition(":")
    if not colon:
        return origin
    return f"{SCREEN[lang].origins.get(kind, kind)}:{rest}"


_DOUBTFUL_TRACK = {
    "en": "{number}: its check digit does not match — a typo?",
    "ru": "{number}: контрольная цифра не сходится — опечатка?",
}


def doubtful_track_note(number: str, lang: Language = "en") -> str:
    """Said when a number of S10 shape fails its check digit (`orderinput.check_digit_doubtful`);
    the CLI and the dashboard share the words."""
    return _DOUBTFUL_TRACK[lang].format(number=number)


def print_mails(records: Sequence[MailRecord], lang: Language = "en") -> None:
    """`show`: the mails that created or changed the order."""
    if not records:
        return
    print(f"\n{SCREEN[lang].found_in_mail}")
    for record in records:
        at = f"{record.sent_at:%Y-%m-%d %H:%M}  " if record.sent_at else ""
        print(f"  {at}{record.subject}  ({record.sender}, {record.reader})")


def unfollowed_notes(
    views: Sequence[OrderView], coverage: Coverage | None, lang: Language = "en"
) -> list[str]:
    """One line per open order whose number no turned-on source follows."""
    if coverage is None:
        return []
    return [
        LINES[lang]["order_note"].format(
            order=view.order.id, note=unfollowed_text(view.order.track, coverage, lang)
        )
        for view in coverage.unfollowed(views)
        if view.order.track is not None
    ]


def print_warning(
    alert: Alert,
    indent: str = "",
    *,
    view: OrderView | None = None,
    lang: Language | None = None,
    zone: tzinfo | None = None,
) -> None:
    """A warning as the ledger stored it (English: `replay`'s contract), or with `lang` as the
    buyer's push says it, the order as `view` shows it."""
    mark = _MARK.get(alert.severity.value, "*")
    title, body, at = alert.title, alert.body, f"{alert.at:%Y-%m-%d %H:%M}"
    if lang is not None:
        message = render(alert, view, lang, zone)
        title, body, at = message.title, message.text, when(alert.at, zone)
    print(f"{indent}{mark} {at} [{alert.rule}] {title}")
    for line in body.splitlines():
        wrapped = textwrap.wrap(line, width=96) or [""]
        for part in wrapped:
            print(f"{indent}    {part}".rstrip())
    print()


def print_timeline(
    shown: Timeline,
    lang: Language = "en",
    zone: tzinfo | None = None,
    *,
    coverage: Coverage | None = None,
    undelivered: Sequence[str] = (),
) -> None:
    """`show`: the order, its checkpoints, estimates and warnings; then whether nothing follows
    its number, and the notifications about it that have not gone out."""
    view, checkpoints, etas, alerts = shown.view, shown.checkpoints, shown.etas, shown.alerts
    screen, order = SCREEN[lang], view.order
    print(f"{screen.order} {order.id}" + (f" — {order.title}" if order.title else ""))
    print(
        f"  {screen.ordered} {when(order.ordered_at, zone)}, {screen.paid} {when(order.paid, zone)}"
    )
    if order.protection_until:
        print(f"  {screen.protection_ends} {when(order.protection_until, zone)}")
    if order.promised_by:
        print(f"  {screen.promised_by} {order.promised_by}")
    if order.estimate:
        print(f"  {screen.shop_estimate}: {order.estimate}")
    if order.origin:
        print(f"  {screen.came_from.format(origin=origin_text(order.origin, lang))}")
    print(f"  {screen.tracks}: {', '.join(order.tracks) or screen.none_yet}")
    status = state_name(view, lang)
    print(f"  {screen.status}: {status}" + (f" ({screen.closed})" if order.closed else ""))
    if order.muted:
        print(f"  {screen.muted_line.format(order=order.id)}")
    merged = sorted(
        ((cp, number) for number, cps in checkpoints.items() for cp in cps),
        key=lambda pair: pair[0].at,
    )
    print(f"\n{screen.checkpoints}:" if merged else f"\n{screen.checkpoints}: {screen.none_yet}")
    for cp, number in merged:
        place = f" — {cp.location}" if cp.location else ""
        at, status_name = checkpoint_when(cp.at, zone, lang), STATUS_NAMES[lang][cp.status]
        print(f"  {at}  {status_name:<16} {cp.text}{place}  [{number}]")
    if etas:
        print(f"\n{screen.estimates}:")
        for seen, eta in etas:
            print(f"  {when(seen, zone)}  {eta if eta else screen.no_estimate}")
    print(f"\n{screen.warnings}:" if alerts else f"\n{screen.warnings}: {screen.no_warnings}")
    for alert in alerts:
        title = render(alert, view, lang, zone).title
        print(f"  {when(alert.at, zone)}  {alert.severity.value:<8} {alert.rule}: {title}")
    print_mails(shown.mails, lang)
    track = order.track
    note = unfollowed_text(track, coverage, lang) if coverage is not None and track else None
    if note is not None:
        print(f"\n{note}")
    if undelivered:
        print(f"\n{screen.undelivered}", *undelivered, sep="\n")


def print_events(
    events: Sequence[Event],
    views: Mapping[str, OrderView],
    lang: Language = "en",
    zone: tzinfo | None = None,
    *,
    quiet: bool = False,
) -> None:
    """What `check` saw: each warning as the buyer's push says it, other events one line each;
    "nothing changed" unless told to be `quiet`."""
    if not events and not quiet:
        print(SCREEN[lang].nothing_changed)
    for event in events:
        if isinstance(event, WarningRaised):
            alert = event.alert
            print_warning(alert, view=views.get(alert.order_id), lang=lang, zone=zone)
        else:
            print(event_line(event, lang, zone))


def event_line(event: Event, lang: Language = "en", zone: tzinfo | None = None) -> str:
    """A bus event as one line of `check` (warnings are printed whole, by `print_warning`)."""
    words, statuses = LINES[lang], STATUS_NAMES[lang]

    def status(value: Status | None) -> str:
        return statuses[value] if value is not None else words["none"]

    match event:
        case OrderAdded(order=order):
            return words["order_added"].format(order=order.id)
        case OrderUpdated(order=order, changed=changed):
            return words["order_updated"].format(order=order.id, changed=", ".join(changed))
        case OrderRemoved(order_id=order_id):
            return words["order_removed"].format(order=order_id)
        case TrackAssigned(order_id=order_id, number=number, previous=None):
            return words["track_assigned"].format(order=order_id, number=number)
        case TrackAssigned(order_id=order_id, number=number, previous=previous):
            return words["track_handed_over"].format(
                order=order_id, number=number, previous=previous
            )
        case CheckpointsAdded(number=number, checkpoints=checkpoints):
            texts = "; ".join(
                f"{checkpoint_when(cp.at, zone, lang)} {cp.text or status(cp.status)}"
                for cp in checkpoints
            )
            return words["checkpoints_added"].format(number=number, texts=texts)
        case StatusChanged(order_id=order_id, old=old, new=new):
            return words["status_changed"].format(order=order_id, old=status(old), new=status(new))
        case EtaChanged(order_id=order_id, old=old, new=new):
            return words["eta_changed"].format(
                order=order_id, old=old or words["none"], new=new or words["none"]
            )
        case SourceFailed(source=source, reason=reason):
            return words["source_failed"].format(source=source, reason=reason)
        case SourceRecovered(source=source, failed_for_s=seconds):
            return words["source_recovered"].format(source=source, minutes=round(seconds / 60))
    return _generic_line(event)


def _generic_line(event: Event) -> str:
    """An event kind without its own words (a plugin's, a new one): its fields as they are."""
    fields: list[str] = []
    for name in event.__dataclass_fields__:
        if name == "at":
            continue
        value = getattr(event, name)
        if isinstance(value, tuple):
            value = [str(v.text if hasattr(v, "text") else v) for v in value]
        elif not isinstance(value, str | int | float | list | None):
            value = str(value)
        fields.append(f"{name}={value}")
    return f"{event.kind}: " + ", ".join(fields)


def print_found(
    found: Mapping[str, Any], lang: Language = "en", zone: tzinfo | None = None
) -> None:
    """`track`: one number as a source answered it (`monitor.lookup.found_json`'s shape), in
    the configured language, times in the display zone."""
    words, statuses = LINES[lang], STATUS_NAMES[lang]
    eta = ""
    if found["eta"]:
        eta = words["found_eta"].format(earliest=found["eta"][0], latest=found["eta"][1])
    status = statuses[Status(found["status"])]
    print(
        words["found"].format(
            number=found["number"], source=found["source"], status=status, eta=eta
        )
    )
    for event in found["events"]:
        place = f" — {event['location']}" if event["location"] else ""
        at = checkpoint_when(datetime.fromisoformat(event["at"]), zone, lang)
        name = statuses[Status(event["status"])]
        print(f"  {at}  {name:<16} {event['text']}{place}")
    if found["handover"]:
        print(words["handover"].format(number=found["handover"]))


def print_demo_scenario(
    scenario: Scenario,
    raised: Sequence[tuple[Alert, OrderView | None]],
    lang: Language,
    zone: tzinfo | None,
) -> None:
    """One bundled example of `demo`: its name, its order and dates, the warnings it raised."""
    screen = SCREEN[lang]
    print(LINES[lang]["demo_heading"].format(name=scenario.title(lang)))
    dates = {"start": f"{scenario.start:%Y-%m-%d}", "end": f"{scenario.end:%Y-%m-%d}"}
    print(f"   {screen.demo_order.format(order=scenario.order.id, **dates)}")
    if not raised:
        print(f"   {screen.demo_quiet}\n")
    for alert, view in raised:
        print_warning(alert, indent="   ", view=view, lang=lang, zone=zone)


# --- import-mail --------------------------------------------------------------------------------


@dataclass(slots=True)
class ImportCounts:
    mails: int = 0
    created: int = 0
    tracks: int = 0

    def add(self, created: int, tracks: int) -> None:
        self.mails += 1
        self.created += created
        self.tracks += tracks


def print_mail_outcome(
    where: str,
    created: Sequence[str],
    tracks: Sequence[tuple[str, str]],
    skipped: str,
    verbose: bool,
) -> None:
    """One line per mail that added something (and, with `verbose`, per mail that did not)."""
    done = [f"new order {o}" for o in created] + [f"{n} -> order {o}" for o, n in tracks]
    if done:
        print(f"{where}: {'; '.join(done)}")
    elif verbose:
        print(f"{where}: {skipped}")


def print_import_counts(counts: ImportCounts) -> None:
    print(
        f"{counts.mails} mails, {counts.created} orders created, "
        f"{counts.tracks} track numbers added",
        file=sys.stderr,
    )
