"""Run the server on a free loopback port in a background thread (tests, demos)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from civlake.osutil import free_port


@contextmanager
def serve_in_background(app, *, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:<port>/``) while ``app`` is being served."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="civlake-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
