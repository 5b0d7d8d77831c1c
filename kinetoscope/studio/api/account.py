"""Accounts over HTTP: log in/out, invites, the caller's own account (keys, password, export,
deletion) and the admin routes (users, quotas, invites, audit log)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import accounts, audit, quotas
from kinetoscope.studio.api import account_schemas as schemas
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.schemas import FILE
from kinetoscope.studio.api.bodies import SMALL, Parsed
from kinetoscope.studio.api.errors import RESPONSES, ApiError
from kinetoscope.studio.auth import SESSION_COOKIE, client_ip

router = APIRouter(prefix="/v1", tags=["accounts"], responses=RESPONSES)
LOGIN, INVITE, PASSWORD = Parsed(schemas.Login, max_bytes=SMALL), Parsed(schemas.InviteAccept, max_bytes=SMALL), \
    Parsed(schemas.PasswordChange, max_bytes=SMALL)
KEY, WEBHOOK, CONFIRM = Parsed(schemas.KeyCreate, max_bytes=SMALL), Parsed(schemas.WebhookSet, max_bytes=SMALL), \
    Parsed(schemas.Password, max_bytes=SMALL)
NEW_USER, USER, NEW_INVITE = Parsed(schemas.UserCreate, max_bytes=SMALL), Parsed(schemas.UserUpdate, max_bytes=SMALL), \
    Parsed(schemas.InviteCreate, max_bytes=SMALL)


def _svc(request: Request):
    return request.app.state.svc


def _user(request: Request):
    p = request.state.principal
    if p.user is None:
        raise ApiError(400, "this studio is open (no accounts yet): create the first with "
                            "`kinetoscope admin create-user NAME --admin`", "no_accounts")
    return accounts.get_user(_svc(request).sessions, p.user.id)


def _account_error(e: accounts.AccountError) -> ApiError:
    code = {401: "invalid_credentials", 403: "forbidden", 404: "not_found", 409: "conflict", 410: "gone"}.get(e.status, "invalid_value")
    return ApiError(e.status, str(e), code, e.field)


async def _call(fn, *args, **kw):
    try:
        return await run_in_threadpool(fn, *args, **kw)
    except accounts.AccountError as e:
        raise _account_error(e) from None


def user_json(u, svc=None) -> dict:
    out = {"id": u.id, "object": "user", "username": u.username, "is_admin": u.is_admin, "disabled": u.disabled,
           "created_at": u.created_at}
    if svc is not None:
        out["quotas"] = quotas.limits_for(u, svc.settings)
        with svc.sessions() as s:
            out["usage"] = quotas.usage(s, u.id)
    return out


def key_json(k) -> dict:
    return {"id": k.id, "object": "api_key", "name": k.name, "prefix": k.prefix, "scopes": k.scopes.split(),
            "created_at": k.created_at, "expires_at": k.expires_at, "revoked_at": k.revoked_at,
            "last_used_at": k.last_used_at}


def set_session_cookie(response, svc, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=accounts.SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=svc.settings.cookie_secure, path="/")


# --- auth -----------------------------------------------------------------------------------------
async def login_limited(request: Request, username: str) -> None:
    key = f"{client_ip(request)}|{username.strip().lower()}"
    wait = await run_in_threadpool(request.app.state.login_limiter.hit, key)  # may ask Redis
    if wait:
        raise ApiError(429, f"too many login attempts: retry in {wait:.0f} s", "rate_limit_exceeded",
                       headers={"Retry-After": str(max(1, round(wait)))})


@router.post("/auth/login", summary="Log in: sets an HttpOnly session cookie, returns the CSRF token",
             openapi_extra=LOGIN.openapi, response_model=schemas.Session)
async def login(request: Request, body: schemas.Login = Depends(LOGIN)):
    svc = _svc(request)
    fields, _ = body.parts()
    username = forms.text(fields, "username", required=True)
    password = forms.text(fields, "password", required=True)
    await login_limited(request, username)
    user = await _call(accounts.authenticate, svc.sessions, username, password, client_ip(request))
    token, csrf = await run_in_threadpool(accounts.start_session, svc.sessions, user)
    resp = JSONResponse({"user": user_json(user), "csrf_token": csrf})
    set_session_cookie(resp, svc, token)
    return resp


@router.post("/auth/logout", summary="Log out (ends the session)", response_model=schemas.Ok)
async def logout(request: Request):
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(accounts.end_session, _svc(request).sessions, token, client_ip(request))
    resp = JSONResponse({"ok": True})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.post("/auth/invite", summary="Create an account from an invite token", openapi_extra=INVITE.openapi,
             response_model=schemas.Session)
async def accept_invite(request: Request, body: schemas.InviteAccept = Depends(INVITE)):
    svc = _svc(request)
    fields, _ = body.parts()
    user = await _call(accounts.accept_invite, svc.sessions, forms.text(fields, "token", required=True),
                       forms.text(fields, "username", required=True), forms.text(fields, "password", required=True),
                       client_ip(request))
    token, csrf = await run_in_threadpool(accounts.start_session, svc.sessions, user)
    resp = JSONResponse({"user": user_json(user), "csrf_token": csrf})
    set_session_cookie(resp, svc, token)
    return resp


# --- me -------------------------------------------------------------------------------------------
@router.get("/me", summary="Who am I, my quotas and usage", response_model=schemas.User,
            response_model_exclude_unset=True)
def me(request: Request):
    p = request.state.principal
    if p.user is None:
        return {"object": "user", "open_studio": True, "scopes": sorted(p.scopes)}
    return {**user_json(_user(request), _svc(request)), "scopes": sorted(p.scopes), "via": p.via}


@router.post("/me/password", summary="Change my password (ends my other sessions)", openapi_extra=PASSWORD.openapi,
             response_model=schemas.Ok)
async def change_password(request: Request, body: schemas.PasswordChange = Depends(PASSWORD)):
    svc = _svc(request)
    fields, _ = body.parts()
    await _call(accounts.change_password, svc.sessions, _user(request), forms.text(fields, "old_password", required=True),
                forms.text(fields, "new_password", required=True), client_ip(request))
    return {"ok": True}


@router.get("/me/keys", summary="My API keys (never the keys themselves)", response_model=schemas.KeyList,
            response_model_exclude_unset=True)
def list_keys(request: Request):
    return {"object": "list", "data": [key_json(k) for k in accounts.list_keys(_svc(request).sessions, _user(request).id)]}


@router.post("/me/keys", summary="Create an API key: the key is in this response only", openapi_extra=KEY.openapi,
             response_model=schemas.ApiKey)
async def create_key(request: Request, body: schemas.KeyCreate = Depends(KEY)):
    svc = _svc(request)
    fields, _ = body.parts()
    scopes = fields.get("scopes") or ["videos:read", "videos:write"]
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    user = _user(request)
    if "admin" in scopes and not request.state.principal.is_admin:
        raise ApiError(403, "only an admin session or admin key can create admin keys", "forbidden", "scopes")
    secret, row = await _call(accounts.create_key, svc.sessions, user, forms.text(fields, "name", "key"), list(scopes),
                              days=forms.number(fields, "expires_in_days", float), ip=client_ip(request))
    return {**key_json(row), "key": secret}


@router.delete("/me/keys/{key_id}", summary="Revoke one of my keys (effective on the next request)",
               response_model=schemas.KeyRevoked)
async def revoke_key(request: Request, key_id: str):
    svc = _svc(request)
    user = _user(request)
    if key_id not in {k.id for k in accounts.list_keys(svc.sessions, user.id)}:
        raise ApiError(404, f"No API key found with id {key_id!r}.", "not_found", "id")
    await _call(accounts.revoke_key, svc.sessions, user, key_id, client_ip(request))
    return {"id": key_id, "object": "api_key.revoked", "revoked": True}


def webhook_json(u, secret: str | None = None) -> dict:
    out = {"object": "webhook", "url": u.webhook_url, "events": ["video.completed", "video.failed"]}
    if secret:
        out["secret"] = secret  # shown once: in the answer that set it
    return out


@router.get("/me/webhook", summary="My webhook: where my videos' events go (never its secret)",
            response_model=schemas.Webhook, response_model_exclude_unset=True)
def get_webhook(request: Request):
    return webhook_json(_user(request))


@router.put("/me/webhook", summary="Send my videos' events to `url`, signed with a new secret (in this response only)",
            openapi_extra=WEBHOOK.openapi, response_model=schemas.Webhook, response_model_exclude_unset=True)
async def set_webhook(request: Request, body: schemas.WebhookSet = Depends(WEBHOOK)):
    svc = _svc(request)
    fields, _ = body.parts()
    user = _user(request)
    secret = await _call(accounts.set_webhook, svc.sessions, user, forms.text(fields, "url", required=True),
                         svc.settings.webhook_allow_private, client_ip(request))
    return webhook_json(accounts.get_user(svc.sessions, user.id), secret)


@router.delete("/me/webhook", summary="Stop sending my videos' events", response_model=schemas.Deleted,
               response_model_exclude_unset=True)
async def remove_webhook(request: Request):
    svc = _svc(request)
    await _call(accounts.remove_webhook, svc.sessions, _user(request), client_ip(request))
    return {"object": "webhook.deleted", "deleted": True}


@router.get("/me/export", summary="All my data as a zip: videos, recipes, metadata, account, audit entries",
            response_class=FileResponse, responses={200: {"content": {"application/zip": FILE}}})
async def export_me(request: Request):
    from kinetoscope.studio.export import export_zip

    svc, user = _svc(request), _user(request)
    path = await run_in_threadpool(export_zip, svc, user)
    audit.log(svc.sessions, user.id, "account.export", user.id, client_ip(request))
    return FileResponse(path, media_type="application/zip", filename=f"kinetoscope-{user.username}.zip",
                        background=BackgroundTask(os.unlink, path))


@router.delete("/me", summary="Delete my account, my videos and my files (needs my password)",
               openapi_extra=CONFIRM.openapi, response_model=schemas.Deleted)
async def delete_me(request: Request, body: schemas.Password = Depends(CONFIRM)):
    svc = _svc(request)
    fields, _ = body.parts()
    user = _user(request)
    await _call(accounts.authenticate, svc.sessions, user.username, forms.text(fields, "password", required=True),
                client_ip(request))
    anon = await run_in_threadpool(accounts.delete_account, svc, user, client_ip(request))
    resp = JSONResponse({"object": "user.deleted", "deleted": True, "audit_id": anon})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --- admin ----------------------------------------------------------------------------------------
def _admin(request: Request):
    p = request.state.principal
    if p.user is None:
        raise ApiError(400, "this studio is open (no accounts yet)", "no_accounts")
    return _user(request)


@router.get("/admin/users", summary="All users (admin)", response_model=schemas.UserList, response_model_exclude_unset=True)
def admin_users(request: Request):
    svc = _svc(request)
    _admin(request)
    return {"object": "list", "data": [user_json(u, svc) for u in accounts.list_users(svc.sessions)]}


@router.post("/admin/users", summary="Create a user (admin)", openapi_extra=NEW_USER.openapi, response_model=schemas.User,
             response_model_exclude_unset=True)
async def admin_create_user(request: Request, body: schemas.UserCreate = Depends(NEW_USER)):
    svc = _svc(request)
    actor = _admin(request)
    fields, _ = body.parts()
    user = await _call(accounts.create_user, svc.sessions, forms.text(fields, "username", required=True),
                       forms.text(fields, "password", required=True), is_admin=forms.flag(fields, "is_admin"),
                       actor=actor.id, ip=client_ip(request))
    return user_json(user, svc)


@router.patch("/admin/users/{user_id}", summary="Disable/enable a user or set their quotas (admin)", openapi_extra=USER.openapi,
              response_model=schemas.User, response_model_exclude_unset=True)
async def admin_update_user(request: Request, user_id: str, body: schemas.UserUpdate = Depends(USER)):
    svc = _svc(request)
    actor = _admin(request)
    fields, _ = body.parts()
    if accounts.get_user(svc.sessions, user_id) is None:
        raise ApiError(404, f"No user found with id {user_id!r}.", "not_found", "id")
    if "disabled" in fields:
        await _call(accounts.set_disabled, svc.sessions, actor, user_id, forms.flag(fields, "disabled"), client_ip(request))
    q = {k: fields[k] for k in accounts.QUOTA_FIELDS if k in fields}
    if q:
        kinds = {"seconds_per_day": float}
        vals = {k: (None if v is None else forms.number(fields, k, kinds.get(k, int))) for k, v in q.items()}
        await _call(accounts.set_quotas, svc.sessions, actor, user_id, client_ip(request), **vals)
    return user_json(accounts.get_user(svc.sessions, user_id), svc)


@router.post("/admin/invites", summary="Create a single-use, expiring invite link (admin)", openapi_extra=NEW_INVITE.openapi,
             response_model=schemas.Invite)
async def admin_invite(request: Request, body: schemas.InviteCreate = Depends(NEW_INVITE)):
    svc = _svc(request)
    actor = _admin(request)
    fields, _ = body.parts()
    hours = forms.number(fields, "hours", float, 48.0)
    token = await _call(accounts.create_invite, svc.sessions, actor, is_admin=forms.flag(fields, "is_admin"),
                        hours=hours, ip=client_ip(request))
    return {"object": "invite", "token": token, "url": str(request.base_url).rstrip("/") + f"/invite/{token}",
            "expires_in_hours": hours}


@router.get("/admin/audit", summary="The audit log, newest first (admin); ?format=jsonl for all of it",
            response_model=schemas.AuditList, responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
def admin_audit(request: Request, limit: int = Query(200, ge=1, le=1000),
                before: int | None = Query(None, ge=0, le=2**63 - 1),  # a time; the databases' integer range
                format: str = Query("json", pattern="^(json|jsonl)$")):
    svc = _svc(request)
    _admin(request)
    if format == "jsonl":
        return PlainTextResponse(audit.jsonl(svc.sessions), media_type="application/x-ndjson")
    return {"object": "list", "data": audit.entries(svc.sessions, limit, before)}
