"""The studio's FastAPI app: the API under /v1, the web pages, and (by default) one worker
running in a thread of the same process."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kinetoscope import __version__
from kinetoscope.studio import auth
from kinetoscope.studio.api import account, characters, docs, errors, events, models, openapi, remixes, verify, videos
from kinetoscope.studio.ratelimit import make_limiter
from kinetoscope.studio.services import Services
from kinetoscope.studio.settings import Settings, from_env
from kinetoscope.studio.web import account_pages, admin_pages
from kinetoscope.studio.web import routes as web
from kinetoscope.studio.web import verify_page
from kinetoscope.studio.api import jobs_api
from kinetoscope.studio.web import job_pages

log = logging.getLogger("kinetoscope.studio")


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or Services.start(settings)
        app.state.svc = svc
        stop = threading.Event()
        thread = None
        if settings.embedded_worker:
            from kinetoscope.studio.worker import Worker

            thread = threading.Thread(target=Worker(svc).run_forever, args=(stop,), daemon=True, name="worker")
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread:
                thread.join(timeout=30)
            if services is None:
                svc.close()

    app = FastAPI(title="kinetoscope studio", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Text-to-video on your own machine. The /v1 routes follow OpenAI's Videos API.")
    errors.install(app)
    openapi.install(app)
    auth.install(app)
    app.state.rate_limiter = make_limiter(settings.redis_url, settings.rate_limit_per_minute, "api")
    app.state.login_limiter = make_limiter(settings.redis_url, settings.login_attempts_per_minute, "login")
    characters.install(app)  # /v1/videos/characters: before /v1/videos/{id}
    app.include_router(remixes.router)  # /v1/videos/remixes
    app.include_router(videos.router)
    app.include_router(events.router)
    app.include_router(jobs_api.router)
    app.include_router(models.router)
    app.include_router(account.router)
    app.include_router(verify.router)
    app.include_router(web.router)
    app.include_router(verify_page.router)
    app.include_router(account_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(job_pages.router)
    docs.install(app)  # /docs and /redoc from installed files, not a CDN; before /static, under which it mounts
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    @app.get("/healthz", tags=["meta"], summary="Liveness and database check")
    def healthz():
        from sqlalchemy import text

        with app.state.svc.db.connect() as c:
            c.execute(text("SELECT 1"))
        return {"ok": True, "version": __version__}

    return app
