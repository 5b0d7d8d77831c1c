"""Job lifecycle on the database row: create, claim with a lease, heartbeat, complete exactly
once, fail, retry when a worker dies (the reaper), and the API's view of a row.

Every state change is one conditional UPDATE, so two workers can never both own or both
complete a job: `claim` only takes a queued job or one whose lease ran out, and `heartbeat`,
`complete` and `fail` only succeed for the worker that holds the lease.
"""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import webhooks
from kinetoscope.studio.models import VideoRow, WebhookDelivery
from kinetoscope.studio.queue import JobQueue
from kinetoscope.studio.settings import Settings

TERMINAL = ("completed", "failed", "cancelled")
ACTIVE = ("queued", "in_progress")  # what POST /v1/videos/{id}/cancel can stop


def new_id(prefix: str = "video") -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def now() -> float:
    return time.time()


# --- creating and reading ----------------------------------------------------------------------
def create(sf: sessionmaker[Session], queue: JobQueue, settings: Settings, *, model: str, task: str, prompt: str,
           request: dict, seconds: str, size: str, owner_id: str | None = None, input_key: str | None = None, input_consent: bool = False,
           remixed_from: str | None = None, source_video_id: str | None = None, video_id: str | None = None,
           duration: float = 0.0, size_bytes: int = 0, guard=None, warnings: list[str] | None = None,
           group_id: str | None = None) -> VideoRow:
    """Insert the job (after `guard(session)`, e.g. the quota check, in the same transaction), then queue it.
    `size_bytes`: what is stored for it already (an upload), counted in the owner's storage until it completes.
    `warnings`: what the video object says of the request (it is still made), e.g. words the model never saw.
    `group_id`: the variations (same request, consecutive seeds) it was made with."""
    t = now()
    row = VideoRow(id=video_id or new_id(), owner_id=owner_id, model=model, task=task, prompt=prompt,
                   request=json.dumps(request, sort_keys=True), seconds=seconds, size=size, status="queued", progress=0,
                   created_at=int(t), created_ns=time.time_ns(), expires_at=int(t + settings.retention_hours * 3600),
                   attempts=0, input_key=input_key, input_consent=input_consent, remixed_from_video_id=remixed_from,
                   source_video_id=source_video_id, enqueued_at=t, duration=duration, size_bytes=size_bytes,
                   warnings=json.dumps(warnings) if warnings else None, group_id=group_id)
    with sf.begin() as s:
        if guard is not None:
            guard(s)
        s.add(row)
        if owner_id is not None:
            from kinetoscope.studio import audit

            audit.record(s, owner_id, "video.create", row.id, None, task=task, model=model)
    try:
        queue.push(row.id)
    except Exception:  # noqa: BLE001 - the queue is down: the row is the truth, the reaper pushes it later
        pass
    return row


def _possible_id(video_id: str) -> bool:
    """Ids are short and printable; anything else (a NUL byte, a megabyte) is no id, without asking the database."""
    return 0 < len(video_id) <= 64 and "\x00" not in video_id


def get(sf: sessionmaker[Session], video_id: str, owner_id: str | None = None) -> VideoRow | None:
    if not _possible_id(video_id):
        return None
    with sf() as s:
        row = s.get(VideoRow, video_id)
    if row is None or (owner_id is not None and row.owner_id != owner_id):
        return None
    return row


def page(sf: sessionmaker[Session], *, after: str | None, limit: int, order: str, owner_id: str | None = None):
    """Cursor pagination by creation time (ties by id). Returns (rows, has_more)."""
    desc = order == "desc"
    q = select(VideoRow)
    if owner_id is not None:
        q = q.where(VideoRow.owner_id == owner_id)
    with sf() as s:
        if after:
            cur = s.get(VideoRow, after) if _possible_id(after) else None
            if cur is None or (owner_id is not None and cur.owner_id != owner_id):
                raise KeyError(after)
            key = (VideoRow.created_ns, VideoRow.id)
            if desc:
                q = q.where(or_(key[0] < cur.created_ns, and_(key[0] == cur.created_ns, key[1] < cur.id)))
            else:
                q = q.where(or_(key[0] > cur.created_ns, and_(key[0] == cur.created_ns, key[1] > cur.id)))
        if desc:
            q = q.order_by(VideoRow.created_ns.desc(), VideoRow.id.desc())
        else:
            q = q.order_by(VideoRow.created_ns.asc(), VideoRow.id.asc())
        rows = list(s.scalars(q.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def remove(sf: sessionmaker[Session], video_id: str) -> bool:
    with sf.begin() as s:
        return s.execute(delete(VideoRow).where(VideoRow.id == video_id)).rowcount == 1


# --- the worker's side -------------------------------------------------------------------------
def claim(sf: sessionmaker[Session], video_id: str, worker_id: str, settings: Settings) -> VideoRow | None:
    t = now()
    with sf.begin() as s:
        res = s.execute(
            update(VideoRow)
            .where(VideoRow.id == video_id, VideoRow.attempts < settings.max_attempts,
                   or_(VideoRow.status == "queued",
                       and_(VideoRow.status == "in_progress", VideoRow.lease_until < t)))
            .values(status="in_progress", worker_id=worker_id, lease_until=t + settings.lease_seconds,
                    attempts=VideoRow.attempts + 1, started_at=int(t), progress=0)
        )
        if res.rowcount != 1:
            return None
    return get(sf, video_id)


def heartbeat(sf: sessionmaker[Session], video_id: str, worker_id: str, progress: int, settings: Settings) -> bool:
    """Extend the lease and record progress; False when the job is no longer ours (deleted, or
    another worker took it after our lease ran out)."""
    with sf.begin() as s:
        res = s.execute(update(VideoRow)
                        .where(VideoRow.id == video_id, VideoRow.worker_id == worker_id, VideoRow.status == "in_progress")
                        .values(lease_until=now() + settings.lease_seconds, progress=max(0, min(99, progress))))
        return res.rowcount == 1


def _finish(sf, video_id: str, worker_id: str, settings: Settings, event: str, values: dict) -> bool:
    with sf.begin() as s:
        res = s.execute(update(VideoRow)
                        .where(VideoRow.id == video_id, VideoRow.worker_id == worker_id, VideoRow.status == "in_progress")
                        .values(lease_until=None, completed_at=int(now()), **values))
        if res.rowcount != 1:
            return False
        webhooks.record(s, video_id, event, settings)  # the outbox: recorded with the state change, delivered later
        return True


def complete(sf, video_id: str, worker_id: str, files: dict, settings: Settings, size_bytes: int = 0,
             seconds: float | None = None) -> bool:
    """`seconds`: the video's length where it was known only once made (a loop's), for its label and quota."""
    values = {"status": "completed", "progress": 100, "files": json.dumps(files), "size_bytes": size_bytes}
    if seconds is not None:
        values.update(seconds=f"{seconds:g}", duration=seconds)
    return _finish(sf, video_id, worker_id, settings, "video.completed", values)


def fail(sf, video_id: str, worker_id: str, code: str, message: str, settings: Settings) -> bool:
    return _finish(sf, video_id, worker_id, settings, "video.failed",
                   {"status": "failed", "error_code": code, "error_message": message[:2000]})


def running(sf: sessionmaker[Session], video_id: str, worker_id: str) -> bool:
    """Is the job still this worker's to make (not cancelled, deleted, or taken over)? One read, no lock."""
    with sf() as s:
        row = s.execute(select(VideoRow.status, VideoRow.worker_id).where(VideoRow.id == video_id)).first()
    return row is not None and row.status == "in_progress" and row.worker_id == worker_id


def ended_by_owner(sf: sessionmaker[Session], video_id: str) -> bool:
    """Deleted or cancelled: then a worker that was making it removes all it wrote."""
    row = get(sf, video_id)
    return row is None or row.status == "cancelled"


def cancel(sf: sessionmaker[Session], video_id: str, settings: Settings) -> bool:
    """Stop a queued or running job: status `cancelled`, its stored bytes and seconds no longer
    counted in quotas. A queued id the queue still carries is skipped by `claim`; a running job's
    worker sees it at its next step (`running`) and removes what it wrote. False if it had already ended."""
    with sf.begin() as s:
        res = s.execute(update(VideoRow).where(VideoRow.id == video_id, VideoRow.status.in_(ACTIVE))
                        .values(status="cancelled", lease_until=None, completed_at=int(now()), size_bytes=0, files=None))
        if res.rowcount != 1:
            return False
        webhooks.record(s, video_id, "video.cancelled", settings)
        return True


def reap(sf: sessionmaker[Session], queue: JobQueue, settings: Settings) -> dict:
    """Push again the jobs whose worker died (lease expired) or that never reached the queue;
    fail those out of attempts; delete expired videos. Returns the counts (and the expired ids,
    whose files the caller removes)."""
    t = now()
    stale = t - max(settings.lease_seconds, 5.0)
    counts = {"requeued": 0, "failed": 0, "expired": []}
    try:  # a queued row can only have missed the queue if the queue holds nothing (else: a backlog)
        queue_empty = queue.pending() == 0
    except Exception:  # noqa: BLE001 - the queue is down: push nothing now, try on the next round
        queue_empty = False
    with sf.begin() as s:
        gave_up = s.execute(
            update(VideoRow)
            .where(VideoRow.status == "in_progress", VideoRow.lease_until < t, VideoRow.attempts >= settings.max_attempts)
            .values(status="failed", error_code="worker_lost", lease_until=None, completed_at=int(t),
                    error_message=f"the job's worker stopped responding {settings.max_attempts} times; giving up")
            .returning(VideoRow.id)
        ).scalars().all()
        counts["failed"] = len(gave_up)
        for vid in gave_up:
            webhooks.record(s, vid, "video.failed", settings)
        lost = [and_(VideoRow.status == "in_progress", VideoRow.lease_until < t)]
        if queue_empty:
            lost.append(and_(VideoRow.status == "queued", VideoRow.enqueued_at < stale))
        due = s.scalars(select(VideoRow.id).where(or_(*lost))).all()
        if due:
            s.execute(update(VideoRow).where(VideoRow.id.in_(due)).values(enqueued_at=t))
        expired = s.scalars(select(VideoRow.id).where(VideoRow.expires_at < int(t), VideoRow.status.in_(TERMINAL))).all()
        if expired:
            s.execute(delete(VideoRow).where(VideoRow.id.in_(expired)))
        counts["expired"] = list(expired)
    for vid in due:
        queue.push(vid)
    counts["requeued"] = len(due)
    return counts


def pending_deliveries(sf: sessionmaker[Session], limit: int = 20) -> list[WebhookDelivery]:
    with sf() as s:
        return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                                            WebhookDelivery.next_attempt_at <= now()).limit(limit)))


# --- the API's view ----------------------------------------------------------------------------
def to_api(row: VideoRow) -> dict:
    request = json.loads(row.request)
    return {
        "id": row.id,
        "object": "video",
        "model": row.model,
        "status": row.status,
        "progress": row.progress,
        "created_at": row.created_at,
        "completed_at": row.completed_at if row.status in TERMINAL else None,
        "expires_at": row.expires_at,
        "prompt": row.prompt,
        "seconds": row.seconds,
        "size": row.size,
        "remixed_from_video_id": row.remixed_from_video_id,
        "error": {"code": row.error_code, "message": row.error_message} if row.status == "failed" else None,
        # ours, beyond OpenAI's object
        "task": row.task,
        "engine": request.get("engine", row.model),  # what made it, where `model` is an alias (KINETOSCOPE_MODEL_ALIASES)
        "source_video_id": row.source_video_id,
        "attempts": row.attempts,
        "input_training_consent": row.input_consent if row.input_key else None,
        "seed": request.get("seed"),  # the one given, or the one picked for it: the same seed makes the same video
        "warnings": json.loads(row.warnings or "[]"),  # e.g. prompt words the model never saw in training
        "group_id": row.group_id,  # variations made together (create with n > 1), else None
        "queue_position": None,  # 1 = next; set by estimates.video_objects while queued
        "eta_seconds": None,  # seconds until done, estimated (estimates.py); None once it has ended
        "request": request,
    }
