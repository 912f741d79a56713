"""The local HTTP API: health, metrics, orders, and the webhook routes of source plugins.

`settings` is imported by the configuration and stays free of aiohttp.web; the app is built in
`monitor.web.api` and served by `monitor.web.server`.
"""
