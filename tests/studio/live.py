"""A live uvicorn server on 127.0.0.1 in a thread, for clients that speak real HTTP."""

from __future__ import annotations

import contextlib
import threading
import time

import uvicorn

from kinetoscope.studio.app import create_app
from tests.studio.servers import free_port


@contextlib.contextmanager
def live_server(svc):
    """Serve `svc` (its settings decide whether a worker runs in-process); yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services=svc), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
