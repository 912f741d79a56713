"""A real API server in its own process with a small open-files limit (run by the tests)."""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
from pathlib import Path

from monitor.health import Health
from monitor.web.api import build_app, metrics_renderer
from monitor.web.server import HttpServer
from tests import builders


async def main(files: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = builders.pipeline(Path(tmp))
        app = build_app(
            store=pipeline.store,
            orders=pipeline.orders,
            health=Health(),
            metrics_text=metrics_renderer(pipeline.store, pipeline.poller, None),
            token=None,
        )
        async with HttpServer(app, host="127.0.0.1", port=0, header_timeout=30.0) as server:
            print(f"PORT {server.port}", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
