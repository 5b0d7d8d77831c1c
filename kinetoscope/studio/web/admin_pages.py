"""The admin page (/admin, admins only; a 404 page for everyone else): users with disable/enable
and quota overrides, single-use invite links (shown once), and the audit log, newest first, in
pages by `before` seq, with the JSONL download from the API. Plain forms over accounts.py and audit.py."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import accounts, audit, auth, quotas
from kinetoscope.studio.api import account as account_api
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.auth import client_ip
from kinetoscope.studio.models import User
from kinetoscope.studio.web.account_pages import NO_STORE, _done, _form, _open_studio, _problem, _render, _user
from kinetoscope.studio.web.routes import _not_found

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])


def _admin_context(svc, before: int | None, **extra) -> dict:
    users = accounts.list_users(svc.sessions)
    names = {u.id: u.username for u in users}
    page = svc.settings.page_size
    entries = audit.entries(svc.sessions, page + 1, before)
    for e in entries:
        e["actor_name"], e["target_name"] = names.get(e["actor"], e["actor"]), names.get(e["target"], e["target"])
        e["detail_text"] = json.dumps(e["detail"], sort_keys=True, separators=(", ", ": ")) if e["detail"] else ""
    listed = [{**account_api.user_json(u, svc), "overrides": {k: getattr(u, k) for k in accounts.QUOTA_FIELDS}}
              for u in users]
    base = {"users": listed, "entries": entries[:page], "before": before,
            "older": entries[page - 1]["seq"] if len(entries) > page else None, "errors": {}, "values": {},
            "invite": None, "defaults": _defaults(svc.settings)}
    return {**base, **extra}


def _defaults(settings) -> dict:
    return quotas.limits_for(User(), settings)  # a user with no overrides


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isdigit() else None


async def _admin_page(request: Request, status: int = 200, headers: dict | None = None, **extra) -> HTMLResponse:
    ctx = await run_in_threadpool(_admin_context, request.app.state.svc, _before(request), **extra)
    return _render(request, "admin.html", {**ctx, "done": _done(request), "nav": "admin"}, status, headers)


def _admin_or_none(request: Request):
    """The admin asking, or None for everyone else (who get a 404 page, as for any unknown page)."""
    user = _user(request)
    return user if user is not None and user.is_admin else None


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request):
    if request.state.principal.via == "open":
        return _open_studio(request)
    if await run_in_threadpool(_admin_or_none, request) is None:
        return _not_found(request, "page /admin")
    return await _admin_page(request)


@router.post("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def admin_user_action(request: Request, user_id: str, action: str):
    svc = request.app.state.svc
    admin = await run_in_threadpool(_admin_or_none, request)
    if admin is None or action not in ("disable", "enable", "quotas"):
        return _not_found(request, "page " + request.url.path)
    if await run_in_threadpool(accounts.get_user, svc.sessions, user_id) is None:
        return _not_found(request, f"user {user_id}")
    ip = client_ip(request)
    if action == "quotas":
        form = await _form(request)
        values = {f"{k}-{user_id}": str(form.get(k, "")) for k in accounts.QUOTA_FIELDS}
        try:
            kinds = {"seconds_per_day": float}
            quota = {k: forms.number(form, k, kinds.get(k, int)) for k in accounts.QUOTA_FIELDS}
            await run_in_threadpool(lambda: accounts.set_quotas(svc.sessions, admin, user_id, ip, **quota))
        except (ApiError, accounts.AccountError) as e:
            status, errors = _problem(e, {k: f"{k}-{user_id}" for k in accounts.QUOTA_FIELDS})
            return await _admin_page(request, status, errors=errors, values=values)
        return RedirectResponse(f"/admin?done=quotas#user-{user_id}", status_code=303)
    if user_id == admin.id:
        return await _admin_page(request, 400, errors={"": "you cannot disable your own account here: ask another admin"})
    await run_in_threadpool(accounts.set_disabled, svc.sessions, admin, user_id, action == "disable", ip)
    return RedirectResponse(f"/admin?done={action}d#user-{user_id}", status_code=303)


@router.post("/admin/invites", response_class=HTMLResponse)
async def admin_invite(request: Request):
    svc = request.app.state.svc
    admin = await run_in_threadpool(_admin_or_none, request)
    if admin is None:
        return _not_found(request, "page /admin/invites")
    form = await _form(request)
    values = {"hours": str(form.get("hours", "")), "is_admin": form.get("is_admin")}
    try:
        hours = forms.number(form, "hours", float, 48.0)
        is_admin = forms.flag(form, "is_admin")
        token = await run_in_threadpool(lambda: accounts.create_invite(svc.sessions, admin, is_admin=is_admin,
                                                                       hours=hours, ip=client_ip(request)))
    except (ApiError, accounts.AccountError) as e:
        status, errors = _problem(e)
        return await _admin_page(request, status, errors=errors, values=values)
    url = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return await _admin_page(request, 200, NO_STORE, invite={"url": url, "hours": hours, "is_admin": is_admin})
