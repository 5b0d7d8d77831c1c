"""Accounts: users with argon2id passwords, single-use invites, scoped API keys stored as
hashes, and web sessions. Every function that changes something writes its audit entry in the
same transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import audit
from kinetoscope.studio.models import ApiKey, Character, Invite, User, VideoRow, WebSession

SCOPES = ("videos:read", "videos:write", "admin")
KEY_PREFIX = "kin_"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 256
SESSION_SECONDS = 14 * 24 * 3600
_hasher = PasswordHasher()  # argon2id, the library's defaults (RFC 9106 low-memory profile)


class AccountError(ValueError):
    """Something the user can fix; `field` names the input."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.field, self.status = field, status


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def now() -> int:
    return int(time.time())


def _check_password(password: str) -> None:
    if not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise AccountError(f"password has {len(password)} characters: use {PASSWORD_MIN} to {PASSWORD_MAX}", "password")


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise AccountError(f"username {username!r} is not allowed: 2 to 32 of a-z 0-9 _ . -, starting with a letter or digit",
                           "username")
    return name


# --- users --------------------------------------------------------------------------------------
def count_users(sf: sessionmaker[Session]) -> int:
    with sf() as s:
        return s.scalar(select(func.count()).select_from(User))


def create_user(sf, username: str, password: str, *, is_admin: bool = False, actor: str | None = "system",
                ip: str | None = None, s: Session | None = None) -> User:
    name = _check_username(username)
    _check_password(password)
    user = User(id="user_" + secrets.token_hex(12), username=name, password_hash=_hasher.hash(password),
                is_admin=is_admin, disabled=False, created_at=now(), lock_version=0)

    def add(s: Session) -> None:
        if s.scalar(select(User.id).where(User.username == name)):
            raise AccountError(f"username {name!r} is taken", "username", 409)
        first = s.scalar(select(func.count()).select_from(User)) == 0
        s.add(user)
        s.flush()
        if first:  # the open studio's videos and characters become the first account's
            s.execute(update(VideoRow).where(VideoRow.owner_id.is_(None)).values(owner_id=user.id))
            s.execute(update(Character).where(Character.owner_id.is_(None)).values(owner_id=user.id))
        audit.record(s, actor, "user.create", user.id, ip, username=name, admin=is_admin)

    if s is not None:
        add(s)
    else:
        with sf.begin() as s2:
            add(s2)
    return user


def get_user(sf, user_id: str) -> User | None:
    with sf() as s:
        return s.get(User, user_id)


def find_user(sf, username: str) -> User | None:
    with sf() as s:
        return s.scalar(select(User).where(User.username == username.strip().lower()))


def list_users(sf) -> list[User]:
    with sf() as s:
        return list(s.scalars(select(User).order_by(User.created_at, User.username)))


def authenticate(sf, username: str, password: str, ip: str | None = None) -> User:
    """The user, or AccountError (same message whether the name or the password was wrong)."""
    user = find_user(sf, username)
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # spend the same time, so timing does not reveal which names exist
    if not ok or user.disabled:
        audit.log(sf, user.id if user else None, "login.failure", user.id if user else None, ip,
                  reason="disabled" if ok else "bad credentials")
        raise AccountError("wrong username or password" if not ok else "this account is disabled", "password", 401)
    if _hasher.check_needs_rehash(user.password_hash):
        with sf.begin() as s:
            s.execute(update(User).where(User.id == user.id).values(password_hash=_hasher.hash(password)))
    audit.log(sf, user.id, "login.success", user.id, ip)
    return user


def change_password(sf, user: User, old: str, new: str, ip: str | None = None) -> None:
    try:
        _hasher.verify(user.password_hash, old)
    except (VerificationError, InvalidHashError):
        raise AccountError("the current password is wrong", "old_password", 400) from None
    _check_password(new)
    with sf.begin() as s:
        s.execute(update(User).where(User.id == user.id).values(password_hash=_hasher.hash(new)))
        s.query(WebSession).filter(WebSession.user_id == user.id).delete()  # sign out everywhere
        audit.record(s, user.id, "password.change", user.id, ip)


def set_disabled(sf, actor: User, user_id: str, disabled: bool, ip: str | None = None) -> None:
    with sf.begin() as s:
        if s.execute(update(User).where(User.id == user_id).values(disabled=disabled)).rowcount != 1:
            raise AccountError(f"no user {user_id!r}", "user", 404)
        if disabled:
            s.query(WebSession).filter(WebSession.user_id == user_id).delete()
        audit.record(s, actor.id, "user.disable" if disabled else "user.enable", user_id, ip)


QUOTA_FIELDS = ("max_concurrent_jobs", "videos_per_day", "seconds_per_day", "storage_bytes")


def set_quotas(sf, actor: User, user_id: str, ip: str | None = None, **values) -> None:
    bad = [k for k in values if k not in QUOTA_FIELDS]
    if bad:
        raise AccountError(f"unknown quota {bad[0]!r}: use {', '.join(QUOTA_FIELDS)}", bad[0])
    for k, v in values.items():
        if v is not None and v < 0:
            raise AccountError(f"{k} {v} is out of range: allowed 0 or more (or null for the default)", k)
    with sf.begin() as s:
        if s.execute(update(User).where(User.id == user_id).values(**values)).rowcount != 1:
            raise AccountError(f"no user {user_id!r}", "user", 404)
        audit.record(s, actor.id, "settings.quota", user_id, ip, **values)


# --- invites ------------------------------------------------------------------------------------
def create_invite(sf, actor: User, *, is_admin: bool = False, hours: float = 48, ip: str | None = None) -> str:
    if not (0 < hours <= 24 * 30):
        raise AccountError(f"hours {hours} is out of range: allowed more than 0 up to {24 * 30}", "hours")
    token = secrets.token_urlsafe(24)
    with sf.begin() as s:
        s.add(Invite(id=sha256(token), created_by=actor.id, is_admin=is_admin, created_at=now(),
                     expires_at=now() + int(hours * 3600)))
        audit.record(s, actor.id, "invite.create", None, ip, admin=is_admin, hours=hours)
    return token


def accept_invite(sf, token: str, username: str, password: str, ip: str | None = None) -> User:
    with sf.begin() as s:
        inv = s.get(Invite, sha256(token))
        if inv is None or inv.used_at is not None or inv.expires_at <= now():
            why = "unknown" if inv is None else ("already used" if inv.used_at else "expired")
            raise AccountError(f"this invite link is {why}: ask an admin for a new one", "invite", 410 if inv else 404)
        # claim it first: of two people racing for one invite, only one gets past this UPDATE
        claimed = s.execute(update(Invite).where(Invite.id == inv.id, Invite.used_at.is_(None))
                            .values(used_at=now())).rowcount
        if claimed != 1:
            raise AccountError("this invite link is already used: ask an admin for a new one", "invite", 410)
        user = create_user(sf, username, password, is_admin=inv.is_admin, actor=inv.created_by, ip=ip, s=s)
        s.execute(update(Invite).where(Invite.id == inv.id).values(used_by=user.id))
        audit.record(s, user.id, "invite.use", user.id, ip)
    return user


# --- API keys -------------------------------------------------------------------------------------
def create_key(sf, user: User, name: str, scopes: list[str], *, days: float | None = None, ip: str | None = None) -> tuple[str, ApiKey]:
    """(the key, shown once; its row). Only the hash is kept."""
    name = (name or "").strip() or "key"
    if len(name) > 100:
        raise AccountError(f"name has {len(name)} characters: allowed 1 to 100", "name")
    scopes = sorted(set(scopes or ["videos:read", "videos:write"]))
    bad = [x for x in scopes if x not in SCOPES]
    if bad:
        raise AccountError(f"scope {bad[0]!r} is not known: use {', '.join(SCOPES)}", "scopes")
    if "admin" in scopes and not user.is_admin:
        raise AccountError("only admins can create keys with the admin scope", "scopes", 403)
    if days is not None and not (0 < days <= 3650):
        raise AccountError(f"expires_in_days {days} is out of range: allowed more than 0 up to 3650", "expires_in_days")
    secret = KEY_PREFIX + secrets.token_urlsafe(30)
    row = ApiKey(id="key_" + secrets.token_hex(12), user_id=user.id, name=name, prefix=secret[:12], key_hash=sha256(secret),
                 scopes=" ".join(scopes), created_at=now(), expires_at=now() + int(days * 86400) if days else None)
    with sf.begin() as s:
        s.add(row)
        audit.record(s, user.id, "key.create", row.id, ip, prefix=row.prefix, scopes=scopes, name=name)
    return secret, row


def list_keys(sf, user_id: str) -> list[ApiKey]:
    with sf() as s:
        return list(s.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())))


def revoke_key(sf, user: User, key_id: str, ip: str | None = None) -> None:
    with sf.begin() as s:
        q = update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        if not user.is_admin:
            q = q.where(ApiKey.user_id == user.id)
        if s.execute(q.values(revoked_at=now())).rowcount != 1:
            raise AccountError(f"no active key {key_id!r}", "key", 404)
        audit.record(s, user.id, "key.revoke", key_id, ip)


def set_webhook(sf, user: User, url: str, allow_private: bool = False, ip: str | None = None) -> str:
    """Point the account's webhook at `url` with a new signing secret (returned; rotating it is
    setting the URL again). Raises AccountError naming `url` if the studio will not call it."""
    from kinetoscope.studio import webhooks

    try:
        webhooks.check_url(url, allow_private)
    except webhooks.WebhookUrlError as e:
        raise AccountError(str(e), "url") from None
    secret = webhooks.new_secret()
    with sf.begin() as s:
        s.execute(update(User).where(User.id == user.id).values(webhook_url=url, webhook_secret=secret))
        audit.record(s, user.id, "webhook.set", user.id, ip, host=urlsplit(url).hostname)  # a URL may hold a token
    return secret


def remove_webhook(sf, user: User, ip: str | None = None) -> None:
    """Stop sending this account's events (deliveries not yet sent are given up)."""
    with sf.begin() as s:
        s.execute(update(User).where(User.id == user.id).values(webhook_url=None, webhook_secret=None))
        audit.record(s, user.id, "webhook.remove", user.id, ip)


@dataclass(frozen=True)
class KeyCheck:
    user: User
    key: ApiKey
    scopes: frozenset[str]


def check_key(sf, secret: str) -> KeyCheck | None:
    """The key's owner and scopes, or None if unknown, revoked, expired or its user disabled.
    Looked up on every request, so a revocation takes effect on the next one."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    with sf() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.key_hash == sha256(secret)))
        if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now()):
            return None
        user = s.get(User, key.user_id)
        if user is None or user.disabled:
            return None
    if not key.last_used_at or now() - key.last_used_at > 60:
        with sf.begin() as s:
            s.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now()))
    return KeyCheck(user, key, frozenset(key.scopes.split()))


# --- web sessions ---------------------------------------------------------------------------------
def start_session(sf, user: User) -> tuple[str, str]:
    """(cookie value, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with sf.begin() as s:
        s.add(WebSession(id=sha256(token), user_id=user.id, csrf_token=csrf, created_at=now(),
                         expires_at=now() + SESSION_SECONDS))
    return token, csrf


def check_session(sf, token: str) -> tuple[User, WebSession] | None:
    if not token or len(token) > 200:
        return None
    with sf() as s:
        ws = s.get(WebSession, sha256(token))
        if ws is None or ws.expires_at < now():
            return None
        user = s.get(User, ws.user_id)
        if user is None or user.disabled:
            return None
        return user, ws


def end_session(sf, token: str, ip: str | None = None) -> None:
    with sf.begin() as s:
        ws = s.get(WebSession, sha256(token))
        if ws is not None:
            audit.record(s, ws.user_id, "logout", ws.user_id, ip)
            s.delete(ws)


# --- data rights ----------------------------------------------------------------------------------
def delete_account(svc, user: User, ip: str | None = None) -> str:
    """Remove the user's videos and characters (rows and files), keys, sessions and the user; the audit
    log keeps only an anonymous id. Returns that id."""
    from kinetoscope.studio import characters

    with svc.sessions() as s:
        video_ids = list(s.scalars(select(VideoRow.id).where(VideoRow.owner_id == user.id)))
    with svc.sessions.begin() as s:
        s.query(VideoRow).filter(VideoRow.owner_id == user.id).delete()
        character_ids = characters.delete_all(svc, s, user.id)
        s.query(ApiKey).filter(ApiKey.user_id == user.id).delete()
        s.query(WebSession).filter(WebSession.user_id == user.id).delete()
        s.query(User).filter(User.id == user.id).delete()
        anon = audit.anonymise(s, user.id)
        audit.record(s, anon, "account.delete", anon, ip, videos=len(video_ids))
    for vid in [*video_ids, *character_ids]:
        svc.storage.delete_prefix(vid)
    return anon
