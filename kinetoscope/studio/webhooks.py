"""Webhooks: `video.completed` / `video.failed` POSTed, signed the Standard Webhooks way
(headers webhook-id, webhook-timestamp, webhook-signature: "v1,<base64 HMAC-SHA256 of
'id.timestamp.body'>"), retried with exponential backoff.

Two kinds of endpoint: the installation's (KINETOSCOPE_WEBHOOK_URL and _SECRET: every video's
events, for the operator) and each account's own (PUT /v1/me/webhook: that account's videos
only, signed with its own secret). An account's URL must not point into the studio's own
network (loopback, private, link-local addresses), checked when it is set and again before each
delivery, unless the operator allows it (KINETOSCOPE_WEBHOOK_ALLOW_PRIVATE).

Deliveries are rows written in the same transaction as the job's final state (an outbox), so
an event is never lost between the state change and the POST; any worker may deliver them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio.models import User, VideoRow, WebhookDelivery

MAX_ATTEMPTS = 8
BACKOFF_SECONDS = (1, 5, 30, 120, 600, 1800, 3600)
TIMEOUT_SECONDS = 10.0


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    if not secret:
        raise ValueError("KINETOSCOPE_WEBHOOK_SECRET is empty: set it to a whsec_... secret to send webhooks")
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: dict, body: str, tolerance: int = 300) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    expected = sign(secret, h.get("webhook-id", ""), ts, body)
    return any(hmac.compare_digest(expected, s) for s in h.get("webhook-signature", "").split())


class WebhookUrlError(ValueError):
    """An account's webhook URL the studio will not call; the message says why."""


def check_url(url: str, allow_private: bool = False) -> str:
    """An http(s) URL whose host resolves only to public addresses (unless `allow_private`)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlError(f"url {url!r} is not an http:// or https:// URL with a host")
    if len(url) > 2000:
        raise WebhookUrlError(f"url is {len(url)} characters: at most 2000")
    if allow_private:
        return url
    try:
        ips = addresses_of(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except ValueError as e:
        raise WebhookUrlError(str(e)) from None
    ip = not_public(ips)
    if ip is not None:
        raise WebhookUrlError(f"url host {parts.hostname!r} is {ip}, a loopback, private or reserved address: "
                              "account webhooks go to public addresses (the operator may allow others with "
                              "KINETOSCOPE_WEBHOOK_ALLOW_PRIVATE=1)")
    return url


def addresses_of(host: str, port: int) -> list:
    """Every address `host` resolves to (ValueError naming it when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise ValueError(f"url host {host!r} does not resolve: {e}") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def not_public(ips):
    """The first of `ips` in the studio's own network or no one's (loopback, private, link-local,
    reserved); None when all are public. What the studio checks before it calls a URL a user gave."""
    return next((ip for ip in ips if not ip.is_global), None)


def new_delivery(video_id: str, event: str, url: str, owner_id: str | None = None) -> WebhookDelivery:
    t = time.time()
    msg_id = "evt_" + secrets.token_hex(16)
    payload = {"id": msg_id, "object": "event", "type": event, "created_at": int(t), "data": {"id": video_id}}
    return WebhookDelivery(id=msg_id, video_id=video_id, event=event, url=url, payload=json.dumps(payload),
                           status="pending", attempts=0, next_attempt_at=t, created_at=int(t), owner_id=owner_id)


def record(s: Session, video_id: str, event: str, settings) -> None:
    """The outbox, inside the transaction that changes the job's state: one delivery for the
    installation's endpoint, one for the owner's, where each is set."""
    if settings.webhook_url:
        s.add(new_delivery(video_id, event, settings.webhook_url))
    owner = s.scalar(select(User).join(VideoRow, VideoRow.owner_id == User.id).where(VideoRow.id == video_id))
    if owner is not None and owner.webhook_url and not owner.disabled:
        s.add(new_delivery(video_id, event, owner.webhook_url, owner.id))


def _endpoint(sf: sessionmaker[Session], d: WebhookDelivery, settings) -> tuple[str, str | None]:
    """(secret, why not to send): the installation's secret, or the account's, if it still has this URL."""
    if d.owner_id is None:
        return settings.webhook_secret, None
    with sf() as s:
        user = s.get(User, d.owner_id)
    if user is None or user.disabled or user.webhook_url != d.url or not user.webhook_secret:
        return "", "the account removed or changed its webhook"
    try:
        check_url(d.url, settings.webhook_allow_private)
    except WebhookUrlError as e:
        return "", str(e)
    return user.webhook_secret, None


def deliver(sf: sessionmaker[Session], d: WebhookDelivery, settings, client: httpx.Client | None = None) -> bool:
    """Try one delivery (claimed first, so two workers never send the same attempt)."""
    secret, refused = _endpoint(sf, d, settings)
    if refused:
        with sf.begin() as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id, WebhookDelivery.status == "pending")
                      .values(status="gave_up", last_error=refused))
        return False
    t = time.time()
    with sf.begin() as s:  # claim: push next_attempt_at forward only if nobody else did
        res = s.execute(update(WebhookDelivery)
                        .where(WebhookDelivery.id == d.id, WebhookDelivery.status == "pending",
                               WebhookDelivery.next_attempt_at == d.next_attempt_at)
                        .values(next_attempt_at=t + TIMEOUT_SECONDS * 3))
        if res.rowcount != 1:
            return False
    ts = int(t)
    headers = {"content-type": "application/json", "webhook-id": d.id, "webhook-timestamp": str(ts),
               "webhook-signature": sign(secret, d.id, ts, d.payload), "user-agent": "kinetoscope-webhooks"}
    error = None
    try:
        own = client is None
        client = client or httpx.Client(timeout=TIMEOUT_SECONDS)
        try:
            r = client.post(d.url, content=d.payload, headers=headers)
        finally:
            if own:
                client.close()
        if 200 <= r.status_code < 300:
            with sf.begin() as s:
                s.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id)
                          .values(status="delivered", attempts=d.attempts + 1, last_error=None))
            return True
        error = f"HTTP {r.status_code}"
    except httpx.HTTPError as e:
        error = f"{type(e).__name__}: {e}"
    attempts = d.attempts + 1
    wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
    with sf.begin() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id).values(
            attempts=attempts, last_error=error, next_attempt_at=time.time() + wait,
            status="gave_up" if attempts >= MAX_ATTEMPTS else "pending"))
    return False
