"""The audit log: who did what, when, from where. Append-only (the only change ever made to a
row is replacing a deleted account's id with an anonymous one). Never holds a password or a
whole key: callers pass ids, prefixes and names."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio.models import AuditEntry

FORBIDDEN_DETAIL_KEYS = ("password", "key", "token", "secret")


def record(s: Session, actor: str | None, action: str, target: str | None = None, ip: str | None = None, **detail) -> None:
    """Add an entry inside the caller's transaction (so it commits with what it describes)."""
    bad = [k for k in detail if any(w == k or k.endswith("_" + w) for w in FORBIDDEN_DETAIL_KEYS)]
    assert not bad, f"audit detail must not carry secrets: {bad}"
    s.add(AuditEntry(id="aud_" + secrets.token_hex(12), at=time.time(), seq=time.time_ns(), actor=actor or "anonymous",
                     action=action, target=target, ip=ip, detail=json.dumps(detail, sort_keys=True) if detail else None))


def log(sf: sessionmaker[Session], actor: str | None, action: str, target: str | None = None, ip: str | None = None, **detail) -> None:
    with sf.begin() as s:
        record(s, actor, action, target, ip, **detail)


def entries(sf: sessionmaker[Session], limit: int = 200, before: int | None = None) -> list[dict]:
    q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before:
        q = q.where(AuditEntry.seq < before)
    with sf() as s:
        return [as_dict(e) for e in s.scalars(q)]


def as_dict(e: AuditEntry) -> dict:
    return {"id": e.id, "at": e.at, "seq": e.seq, "actor": e.actor, "action": e.action, "target": e.target, "ip": e.ip,
            "detail": json.loads(e.detail) if e.detail else {}}


def jsonl(sf: sessionmaker[Session]) -> str:
    with sf() as s:
        return "".join(json.dumps(as_dict(e), sort_keys=True) + "\n"
                       for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq.asc())))


def anonymise(s: Session, user_id: str) -> str:
    anon = "deleted-" + hashlib.sha256(user_id.encode()).hexdigest()[:12]
    s.execute(update(AuditEntry).where(AuditEntry.actor == user_id).values(actor=anon))
    s.execute(update(AuditEntry).where(AuditEntry.target == user_id).values(target=anon))
    return anon
