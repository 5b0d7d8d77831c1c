"""`kinetoscope serve` and `kinetoscope worker`: start the studio, or one more worker."""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading

from kinetoscope.studio.settings import Settings

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    from kinetoscope.studio.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    where = f"http://{host}:{port}"
    print(f"kinetoscope studio on {where}  (API: {where}/v1, docs: {where}/docs)\n"
          f"  data: {settings.data_dir}\n  database: {settings.db_url.split('@')[-1]}\n"
          f"  queue: {settings.redis_url.split('@')[-1] if settings.redis_url else 'SQLite file in the data dir'}\n"
          f"  worker: {'one in this process' if settings.embedded_worker else 'none here: run `kinetoscope worker`'}",
          flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)


def work(settings: Settings, log_level: str = "info") -> None:
    from kinetoscope.studio.services import Services
    from kinetoscope.studio.worker import Worker

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    svc = Services.start(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the job in hand, then stop
        signal.signal(sig, lambda *_: stop.set())
    try:
        Worker(svc).run_forever(stop)
    finally:
        svc.close()
