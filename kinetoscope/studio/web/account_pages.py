"""The account pages: log in and out (/login, /logout), accept an invite (/invite/{token}) and your
own account (/account: quotas, password, API keys, export, deletion); the admin page is in
admin_pages.py and shares the helpers here.

Plain HTML forms that post and answer 303 (or re-render with the message next to the field), over
the service functions in accounts.py, quotas.py, audit.py and export.py. A new API key and a new
invite link are shown once, on the page that answers the POST (never in a URL, never cached)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import accounts, auth
from kinetoscope.studio.api import account as account_api
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.auth import SESSION_COOKIE, client_ip
from kinetoscope.studio.models import Invite
from kinetoscope.studio.web.routes import _not_found, templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])
NO_STORE = {"Cache-Control": "no-store"}
DONE = {  # ?done=WORD after a 303: what just happened (fixed texts; nothing from the URL is echoed)
    "password": "Your password is changed. Your other sessions were signed out.",
    "revoked": "The key is revoked: requests that use it are refused from now on.",
    "disabled": "The user is disabled and signed out; their keys are refused.",  # admin_pages
    "enabled": "The user is enabled again.",
    "quotas": "The quotas are saved.",
    "deleted": "Your account, your videos and their files are deleted.",
    "logout": "You are logged out.",
    "webhook": "The webhook is removed: your videos' events are no longer sent.",
}
# (quota, usage, label, unit) in the order the pages show them; the numbers come from quotas.py
QUOTAS = (("max_concurrent_jobs", "active_jobs", "Videos queued or making at once", ""),
          ("videos_per_day", "videos_today", "Videos in the last 24 hours", ""),
          ("seconds_per_day", "seconds_today", "Seconds of video in the last 24 hours", "s"),
          ("storage_bytes", "storage_bytes", "Storage", "bytes"))
SCOPE_HINTS = {"videos:read": "list, watch and download your videos",
               "videos:write": "make, remix and delete videos", "admin": "the admin routes (users, invites, audit log)"}


def _bytes(n: float | None) -> str:
    n = float(n or 0)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def _num(x: float) -> str:
    """12.5 -> "12.5", 3600.0 -> "3600", 5368709120 -> "5368709120" (never 5.36871e+09)."""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


templates.env.filters.update(bytes=_bytes, num=_num)
templates.env.globals.update(QUOTAS=QUOTAS, SCOPES=accounts.SCOPES, SCOPE_HINTS=SCOPE_HINTS,
                             PASSWORD_MIN=accounts.PASSWORD_MIN, PASSWORD_MAX=accounts.PASSWORD_MAX)


def _render(request: Request, name: str, context: dict, status: int = 200, headers: dict | None = None) -> HTMLResponse:
    resp = templates.TemplateResponse(request, name, context, status_code=status)
    resp.headers.update(headers or {})
    return resp


def _message(request: Request, title: str, message: str, status: int = 200, link=("/", "Back to the studio")):
    return _render(request, "message.html", {"title": title, "message": message, "link": link}, status)


def _open_studio(request: Request) -> HTMLResponse:
    return _message(request, "No accounts yet", "This studio is open: it has no accounts, so nobody needs to log in. "
                    "Create the first admin with “kinetoscope admin create-user NAME --admin”.")


def _problem(e: ApiError | accounts.AccountError, rename: dict | None = None) -> tuple[int, dict[str, str]]:
    """(status, {form field or "": message}) for an error from the form parsers or accounts.py."""
    field, message = (e.param, e.message) if isinstance(e, ApiError) else (e.field, str(e))
    return e.status, {(rename or {}).get(field, field) or "": message}


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another host
    (//evil.example, https://evil.example, /\\evil.example, or a tab/newline browsers drop)."""
    t = target or ""
    parts = urlsplit(t)
    if (not t.startswith("/") or t.startswith(("//", "/\\")) or parts.scheme or parts.netloc
            or any(c < " " or c == "\x7f" for c in t) or parts.path in ("/login", "/logout")):
        return "/"
    return t


async def _form(request: Request):
    """The posted form (already read and cached by the CSRF check when there is a session)."""
    try:
        return await request.form()
    except Exception as e:  # noqa: BLE001 - a malformed body
        raise ApiError(400, f"could not read the form body: {e}", "invalid_body") from None


def _user(request: Request):
    """The user logged in with a browser session, as stored now; None for anyone else. These pages
    are for people: an API key (whatever its scopes) cannot use them to make keys or change a password."""
    p = request.state.principal
    return accounts.get_user(request.app.state.svc.sessions, p.user.id) if p.via == "session" else None


def _not_logged_in(request: Request) -> HTMLResponse:
    if request.state.principal.via == "open":
        return _open_studio(request)
    return _message(request, "Log in to use this page", "Your account's pages need you to log in with a browser "
                    "(an API key can use /v1/me instead).", 403, ("/login", "Log in"))


def _login_with_cookie(svc, user, to: str) -> RedirectResponse:
    token, _ = accounts.start_session(svc.sessions, user)
    resp = RedirectResponse(to, status_code=303)
    account_api.set_session_cookie(resp, svc, token)
    return resp


# --- log in and out ----------------------------------------------------------------------------
def _login_page(request, username="", to="/", errors=None, status=200, headers=None):
    open_studio = request.state.principal.via == "open"
    return _render(request, "login.html", {"username": username, "next": to, "errors": errors or {},
                                           "done": _done(request), "open_studio": open_studio}, status, headers)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request):
    to = safe_next(request.query_params.get("next"))
    if request.state.principal.via == "session":
        return RedirectResponse(to, status_code=303)
    return _login_page(request, to=to)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request):
    svc = request.app.state.svc
    form = await _form(request)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    to = safe_next(str(form.get("next") or ""))
    missing = {k: f"{label} is required" for k, label, v in (("username", "Username", username),
                                                             ("password", "Password", password)) if not v}
    if missing:
        return _login_page(request, username, to, missing, 400)
    try:
        await account_api.login_limited(request, username)
        user = await run_in_threadpool(accounts.authenticate, svc.sessions, username, password, client_ip(request))
    except ApiError as e:  # too many attempts
        return _login_page(request, username, to, {"": e.message}, e.status, e.headers)
    except accounts.AccountError as e:  # the same words whether the name or the password was wrong
        return _login_page(request, username, to, {"": str(e)}, e.status)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await run_in_threadpool(accounts.end_session, svc.sessions, old, client_ip(request))
    return await run_in_threadpool(_login_with_cookie, svc, user, to)


@router.post("/logout")
async def logout(request: Request):
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(accounts.end_session, request.app.state.svc.sessions, token, client_ip(request))
    resp = RedirectResponse("/login?done=logout", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --- invites -------------------------------------------------------------------------------------
def _invite_problem(svc, token: str) -> accounts.AccountError | None:
    """Why this link cannot be used (before anyone fills in the form); accept_invite checks again."""
    with svc.sessions() as s:
        inv = s.get(Invite, accounts.sha256(token))
    if inv is not None and inv.used_at is None and inv.expires_at > accounts.now():
        return None
    why = "unknown" if inv is None else ("already used" if inv.used_at else "expired")
    return accounts.AccountError(f"this invite link is {why}: ask an admin for a new one", "invite", 410 if inv else 404)


def _invite_gone(request: Request, e: accounts.AccountError) -> HTMLResponse:
    return _message(request, "This invite link cannot be used", str(e).capitalize() + ".", e.status,
                    ("/login", "Log in with an existing account"))


@router.get("/invite/{token}", response_class=HTMLResponse)
async def invite_page(request: Request, token: str):
    problem = await run_in_threadpool(_invite_problem, request.app.state.svc, token)
    if problem:
        return _invite_gone(request, problem)
    return _render(request, "invite.html", {"token": token, "username": "", "errors": {}}, headers=NO_STORE)


@router.post("/invite/{token}", response_class=HTMLResponse)
async def invite_submit(request: Request, token: str):
    svc = request.app.state.svc
    form = await _form(request)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    errors = {}
    if password != form.get("password2", ""):
        errors = {"password2": "the two passwords differ: type the same password twice"}
    else:
        try:
            user = await run_in_threadpool(accounts.accept_invite, svc.sessions, token, username, password,
                                           client_ip(request))
        except accounts.AccountError as e:
            if e.field == "invite":
                return _invite_gone(request, e)
            errors = {e.field if e.field in ("username", "password") else "": str(e)}
    if errors:
        return _render(request, "invite.html", {"token": token, "username": username, "errors": errors}, 400, NO_STORE)
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # whoever was logged in on this browser before
        await run_in_threadpool(accounts.end_session, svc.sessions, old, client_ip(request))
    return await run_in_threadpool(_login_with_cookie, svc, user, "/")


# --- your account --------------------------------------------------------------------------------
def _account_context(svc, user, **extra) -> dict:
    me = account_api.user_json(user, svc)
    keys = [account_api.key_json(k) for k in accounts.list_keys(svc.sessions, user.id)]
    base = {"me": me, "keys": keys, "now": accounts.now(), "errors": {}, "values": {}, "new_key": None,
            "webhook_url": user.webhook_url, "new_webhook_secret": None, "characters": _characters(svc, user)}
    return {**base, **extra}


def _characters(svc, user) -> list[dict]:
    """The account's characters and those shared with it, as the API shows them to this account."""
    from kinetoscope.studio import characters
    from kinetoscope.studio.api.characters import to_json

    return [to_json(svc, c, user.id) for c in characters.listing(svc.sessions, user.id)]


async def _account_page(request: Request, status: int = 200, headers: dict | None = None, **extra) -> HTMLResponse:
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    ctx = await run_in_threadpool(_account_context, svc, user, **extra)
    return _render(request, "account.html", {**ctx, "done": _done(request), "nav": "account"}, status, headers)


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request):
    if request.state.principal.via != "session":
        return _not_logged_in(request)
    return await _account_page(request)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    form = await _form(request)
    new = str(form.get("new_password", ""))
    if new != form.get("new_password2", ""):
        return await _account_page(request, 400, errors={"new_password2": "the two new passwords differ: type the same one twice"})
    try:
        await account_api.login_limited(request, user.username)  # a password check like any other
        await run_in_threadpool(accounts.change_password, svc.sessions, user, str(form.get("old_password", "")), new,
                                client_ip(request))
    except (ApiError, accounts.AccountError) as e:
        status, errors = _problem(e, {"password": "new_password", None: "old_password"})
        return await _account_page(request, status, getattr(e, "headers", None), errors=errors)
    # every session was ended, this one too: sign this browser in again
    return await run_in_threadpool(_login_with_cookie, svc, user, "/account?done=password")


@router.post("/account/keys", response_class=HTMLResponse)
async def create_key(request: Request):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    form = await _form(request)
    name, scopes = str(form.get("name", "")), [str(s) for s in form.getlist("scopes")]
    values = {"name": name, "scopes": scopes, "expires_in_days": str(form.get("expires_in_days", ""))}
    try:
        if not scopes:
            raise ApiError(400, "choose at least one scope", "invalid_value", "scopes")
        days = forms.number(form, "expires_in_days", float)
        secret, row = await run_in_threadpool(accounts.create_key, svc.sessions, user, name, scopes, days=days,
                                              ip=client_ip(request))
    except (ApiError, accounts.AccountError) as e:
        status, errors = _problem(e)
        return await _account_page(request, status, errors=errors, values=values)
    return await _account_page(request, 200, NO_STORE, new_key={"key": secret, **account_api.key_json(row)})


@router.post("/account/keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: str):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    mine = {k.id for k in await run_in_threadpool(accounts.list_keys, svc.sessions, user.id)}
    try:
        if key_id not in mine:  # an admin may revoke any key over the API, but this page shows your own
            raise accounts.AccountError(f"no active key {key_id!r}", "key", 404)
        await run_in_threadpool(accounts.revoke_key, svc.sessions, user, key_id, client_ip(request))
    except accounts.AccountError:
        return _not_found(request, f"active API key {key_id}")
    return RedirectResponse("/account?done=revoked#keys", status_code=303)


@router.post("/account/webhook", response_class=HTMLResponse)
async def set_webhook(request: Request):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    url = str((await _form(request)).get("url", "")).strip()
    try:
        secret = await run_in_threadpool(accounts.set_webhook, svc.sessions, user, url, svc.settings.webhook_allow_private,
                                         client_ip(request))
    except accounts.AccountError as e:
        status, errors = _problem(e)
        return await _account_page(request, status, errors=errors, values={"url": url})
    return await _account_page(request, 200, NO_STORE, new_webhook_secret=secret)


@router.post("/account/webhook/remove", response_class=HTMLResponse)
async def remove_webhook(request: Request):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    await run_in_threadpool(accounts.remove_webhook, svc.sessions, user, client_ip(request))
    return RedirectResponse("/account?done=webhook#webhook", status_code=303)


@router.get("/account/export")
async def export(request: Request):
    if request.state.principal.via != "session":
        return _not_logged_in(request)
    return await account_api.export_me(request)  # the zip, written and logged by the API's own route


@router.post("/account/delete", response_class=HTMLResponse)
async def delete_account(request: Request):
    svc = request.app.state.svc
    user = await run_in_threadpool(_user, request)
    if user is None:
        return _not_logged_in(request)
    form = await _form(request)
    try:
        await account_api.login_limited(request, user.username)  # a password check like any other
        await run_in_threadpool(accounts.authenticate, svc.sessions, user.username, str(form.get("password", "")),
                                client_ip(request))
    except (ApiError, accounts.AccountError) as e:
        status, errors = _problem(e, {e.param if isinstance(e, ApiError) else e.field: "delete_password"})
        return await _account_page(request, status, getattr(e, "headers", None), errors=errors)
    await run_in_threadpool(accounts.delete_account, svc, user, client_ip(request))
    resp = RedirectResponse("/login?done=deleted", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
