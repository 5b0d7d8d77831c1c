"""Pydantic bodies and answers of the account routes (/v1/auth, /v1/me, /v1/admin: api/account.py);
the video routes' are in api/schemas.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from kinetoscope.studio.api.schemas import Body


# --- accounts (/v1/auth, /v1/me, /v1/admin) -----------------------------------------------------------
class Login(Body):
    username: str
    password: str


class InviteAccept(Body):
    token: str = Field(description="the invite's token (from its link)")
    username: str
    password: str


class PasswordChange(Body):
    old_password: str
    new_password: str


class Password(Body):
    password: str = Field(description="your password, to confirm")


class KeyCreate(Body):
    name: str | None = Field(None, description="what the key is for (default: key)")
    scopes: list[str] | str | None = Field(None, description="videos:read, videos:write, admin (default: the first two)")
    expires_in_days: float | None = Field(None, description="none: it never expires")


class WebhookSet(Body):
    url: str = Field(description="a public http(s) URL that receives video.completed and video.failed events")


class UserCreate(Body):
    username: str
    password: str
    is_admin: bool | None = None


class UserUpdate(Body):
    disabled: bool | None = None
    max_concurrent_jobs: int | None = Field(None, description="null: the studio's default")
    videos_per_day: int | None = None
    seconds_per_day: float | None = None
    storage_bytes: int | None = None


class InviteCreate(Body):
    is_admin: bool | None = None
    hours: float | None = Field(None, description="how long the link works (default 48)")


class User(BaseModel):
    id: str | None = None
    object: Literal["user"] = "user"
    username: str | None = None
    is_admin: bool | None = None
    disabled: bool | None = None
    created_at: int | None = None
    quotas: dict[str, Any] | None = Field(None, description="this account's limits")
    usage: dict[str, Any] | None = Field(None, description="what it uses now (today's videos and seconds, storage)")
    scopes: list[str] | None = Field(None, description="GET /v1/me: what the caller may do")
    via: str | None = Field(None, description="GET /v1/me: session or key")
    open_studio: bool | None = Field(None, description="GET /v1/me: true where the studio has no accounts yet")


class Session(BaseModel):
    user: User
    csrf_token: str = Field(description="send it as X-CSRF-Token with the session cookie's writes")


class Ok(BaseModel):
    ok: bool


class ApiKey(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    prefix: str
    scopes: list[str]
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    key: str | None = Field(None, description="the key itself: in the answer that created it only")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKey]


class KeyRevoked(BaseModel):
    id: str
    object: Literal["api_key.revoked"] = "api_key.revoked"
    revoked: bool


class Webhook(BaseModel):
    object: Literal["webhook"] = "webhook"
    url: str | None
    events: list[str]
    secret: str | None = Field(None, description="signs the events: in the answer that set it only")


class Deleted(BaseModel):
    object: str = Field(description="webhook.deleted or user.deleted")
    deleted: bool
    audit_id: str | None = Field(None, description="a deleted account: the id its audit entries keep")


class UserList(BaseModel):
    object: Literal["list"] = "list"
    data: list[User]


class Invite(BaseModel):
    object: Literal["invite"] = "invite"
    token: str
    url: str
    expires_in_hours: float


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]] = Field(description="audit entries, newest first")
