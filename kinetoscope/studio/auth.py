"""Who is asking: an API key (Authorization: Bearer kin_...), a web session cookie, or nobody
on an open studio (bound to loopback with no accounts yet). One middleware decides for every
request, checks the key's scopes, CSRF for cookie-authenticated changes, and rate limits.

Routes read `request.state.principal` (and `request.state.owner_id`, None on an open studio).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import accounts
from kinetoscope.studio.api.errors import body
from kinetoscope.studio.models import User

SESSION_COOKIE = "kinetoscope_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PUBLIC_PREFIXES = ("/static/", "/healthz", "/login", "/invite/", "/v1/auth/", "/verify", "/v1/verify", "/favicon")
PUBLIC_EXACT = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
ALL_SCOPES = frozenset(accounts.SCOPES)
USER_SCOPES = frozenset({"videos:read", "videos:write"})


@dataclass(frozen=True)
class Principal:
    user: User | None  # None: the open, single-person studio
    scopes: frozenset[str]
    via: str  # "open" | "key" | "session" | "public"
    csrf: str | None = None
    key_id: str | None = None

    @property
    def owner_id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def needed_scope(method: str, path: str) -> str | None:
    if path.startswith("/v1/admin"):
        return "admin"
    if path.startswith("/v1/"):
        return "videos:read" if method in ("GET", "HEAD", "OPTIONS") else "videos:write"
    return None


def _deny(request: Request, status: int, message: str, code: str, headers: dict | None = None):
    if request.url.path.startswith("/v1/") or request.method in UNSAFE and status != 401:
        return JSONResponse(body(status, message, code), status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return JSONResponse(body(status, message, code), status_code=status, headers=headers)


def _resolve(svc, request: Request) -> Principal | None:
    authz = request.headers.get("authorization", "")
    bearer = authz[7:].strip() if authz.lower().startswith("bearer ") else ""
    if bearer.startswith(accounts.KEY_PREFIX):
        found = accounts.check_key(svc.sessions, bearer)
        if found is None:
            return Principal(None, frozenset(), "bad-key")
        return Principal(found.user, found.scopes, "key", key_id=found.key.id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = accounts.check_session(svc.sessions, cookie)
        if found:
            user, ws = found
            return Principal(user, ALL_SCOPES if user.is_admin else USER_SCOPES, "session", csrf=ws.csrf_token)
    if svc.settings.open_mode and accounts.count_users(svc.sessions) == 0:
        return Principal(None, ALL_SCOPES, "open")
    return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return origin.rstrip("/") == f"{request.url.scheme}://{request.headers.get('host', '')}"


def install(app) -> None:
    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        svc = request.app.state.svc
        path = request.url.path
        if request.method in UNSAFE and not _same_origin(request):  # a form posted from another site
            return _deny(request, 403, "cross-origin request refused", "cross_origin")
        public = path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_EXACT
        try:
            principal = await run_in_threadpool(_resolve, svc, request)
        except OperationalError:
            return _deny(request, 503, "The database is not reachable right now; try again shortly.",
                         "service_unavailable", {"Retry-After": "5"})
        if principal is not None and principal.via == "bad-key":
            return _deny(request, 401, "the API key is unknown, revoked or expired", "invalid_api_key")
        if principal is None:
            if not public:
                return _deny(request, 401, "log in, or send an API key as 'Authorization: Bearer kin_...'",
                             "missing_api_key")
            principal = Principal(None, frozenset(), "public")
        scope = needed_scope(request.method, path)
        if scope and not public and scope not in principal.scopes:
            return _deny(request, 403 if principal.user else 401, f"this key lacks the {scope!r} scope", "insufficient_scope")
        if principal.via == "key" and request.method in UNSAFE and not path.startswith("/v1/") and not public:
            # keys are for the API; the pages' forms are for people in a browser session
            return _deny(request, 403, "API keys cannot post the web pages' forms: log in in a browser, or use the /v1 API",
                         "forbidden")
        if principal.via == "session" and request.method in UNSAFE and path.startswith("/v1/") and not public:
            if request.headers.get(CSRF_HEADER) != principal.csrf:
                return _deny(request, 403, "missing or wrong CSRF token (header X-CSRF-Token)", "csrf_failed")
        rl = request.app.state.rate_limiter
        if path.startswith("/v1/") and principal.via in ("key", "session", "open"):
            wait = await run_in_threadpool(rl.hit, principal.owner_id or client_ip(request))  # may ask Redis
            if wait:
                return _deny(request, 429, f"too many requests: at most {rl.limit} a minute; retry in {wait:.0f} s",
                             "rate_limit_exceeded", {"Retry-After": str(max(1, round(wait)))})
        request.state.principal = principal
        request.state.owner_id = principal.owner_id
        return await call_next(request)


async def require_form_csrf(request: Request) -> None:
    """For the web pages' plain HTML forms: a logged-in session must send its token as the
    `csrf_token` field (the middleware checks the X-CSRF-Token header for /v1)."""
    p = getattr(request.state, "principal", None)
    if request.method not in UNSAFE or p is None or p.via != "session":
        return
    if request.headers.get(CSRF_HEADER) == p.csrf:
        return
    form = await request.form(max_part_size=request.app.state.svc.settings.max_upload_bytes + 1)
    if form.get("csrf_token") != p.csrf:
        from kinetoscope.studio.api.errors import ApiError

        raise ApiError(403, "missing or wrong CSRF token: reload the page and try again", "csrf_failed")
