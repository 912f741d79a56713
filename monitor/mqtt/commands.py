"""Commands over MQTT: `<base>/cmd/add`, `/update` and `/close` with JSON payloads.

Payloads are the HTTP API's (see `monitor.orderinput`) plus the order's `id`; an optional
`request_id` is echoed back so a caller can match answers to requests. Every command is answered
on `<base>/cmd/result`; a refused one says why and has changed nothing.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from monitor import orderinput
from monitor.model import OrderView
from monitor.orderinput import BadInput
from monitor.orders import OrderBook
from monitor.store import StoreError

log = structlog.get_logger("monitor.mqtt")

COMMANDS = ("add", "update", "close")


def execute(book: OrderBook, command: str, raw: bytes) -> dict[str, Any]:
    """Run one command; the answer is the JSON object published on `<base>/cmd/result`."""
    answer: dict[str, Any] = {"command": command}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {**answer, "ok": False, "error": f"payload is not JSON: {exc}"}
    if isinstance(data, dict) and "request_id" in data:
        answer["request_id"] = data.pop("request_id")
    try:
        view = _run(book, command, data)
    except (BadInput, StoreError) as exc:  # StoreError: unknown or duplicate id, store trouble
        log.info("monitor.mqtt.command_refused", command=command, reason=str(exc))
        return {**answer, "ok": False, "error": str(exc)}
    except Exception:  # a bug must not cost the connection: answer, log, carry on
        log.exception("monitor.mqtt.command_failed", command=command)
        return {**answer, "ok": False, "error": "internal error; see the daemon's log"}
    log.info("monitor.mqtt.command_done", command=command, order=view.order.id)
    return {**answer, "ok": True, "id": view.order.id}


def _run(book: OrderBook, command: str, data: Any) -> OrderView:
    if command not in COMMANDS:
        raise BadInput(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    if command == "add":
        return orderinput.add(book, data)
    if not isinstance(data, dict):
        raise BadInput(f"expected a JSON object, got {type(data).__name__}")
    order_id = orderinput.order_id(data.pop("id", None))
    if command == "update":
        return orderinput.update(book, order_id, data)
    if data:
        raise BadInput(f"close takes only id, got {', '.join(sorted(data))}")
    return orderinput.close(book, order_id)
