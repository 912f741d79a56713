"""The one presentation layer: the shapes people see of orders, timelines, warnings, events and
the sources' health, built from the store's public reads.

- `state`: an order's state code and its name in words (CLI, MQTT, metrics, dashboard);
- `data`: the JSON shapes (CLI `--json`, HTTP API, MQTT topics, `replay --json`);
- `orders`: the dashboard's and the evidence pack's frozen shapes (overview, detail);
- `terminal`: how the CLI prints them.

Words come from `monitor.notify.texts` (and `monitor.web.texts` for the pages); a new reader
(a mail digest, another client) takes its shapes from here instead of building its own.
"""

from monitor.views.orders import (
    FILTERS,
    EtaPoint,
    Filter,
    OrderDetail,
    OrderSummary,
    Page,
    SourceState,
    TimelineEntry,
    WarningView,
    detail,
    matches,
    overview,
    source_states,
    summarize,
    urgency,
    warning_view,
)

__all__ = [
    "FILTERS",
    "EtaPoint",
    "Filter",
    "OrderDetail",
    "OrderSummary",
    "Page",
    "SourceState",
    "TimelineEntry",
    "WarningView",
    "detail",
    "matches",
    "overview",
    "source_states",
    "summarize",
    "urgency",
    "warning_view",
]
