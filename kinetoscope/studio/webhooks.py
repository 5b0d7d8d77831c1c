"""Webhooks: `video.completed` / `video.failed` POSTed to the configured URL, signed the
Standard Webhooks way (headers webhook-id, webhook-timestamp, webhook-signature:
"v1,<base64 HMAC-SHA256 of 'id.timestamp.body'>"), retried with exponential backoff.

Deliveries are rows written in the same transaction as the job's final state (an outbox), so
an event is never lost between the state change and the POST; any worker may deliver them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio.models import WebhookDelivery

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


def new_delivery(video_id: str, event: str, url: str) -> WebhookDelivery:
    t = time.time()
    msg_id = "evt_" + secrets.token_hex(16)
    payload = {"id": msg_id, "object": "event", "type": event, "created_at": int(t), "data": {"id": video_id}}
    return WebhookDelivery(id=msg_id, video_id=video_id, event=event, url=url, payload=json.dumps(payload),
                           status="pending", attempts=0, next_attempt_at=t, created_at=int(t))


def deliver(sf: sessionmaker[Session], d: WebhookDelivery, secret: str, client: httpx.Client | None = None) -> bool:
    """Try one delivery (claimed first, so two workers never send the same attempt)."""
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
