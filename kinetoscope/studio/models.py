"""Database tables (SQLAlchemy 2). The `videos` row is the truth about each job; the schema is
created and upgraded by the Alembic migrations in `migrations/`, never by `create_all`."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("queued", "in_progress", "completed", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class VideoRow(Base):
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(32), default="t2v")
    prompt: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text)  # JSON: the resolved GenerationRequest fields + task options
    seconds: Mapped[str] = mapped_column(String(16))
    size: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    remixed_from_video_id: Mapped[str | None] = mapped_column(String(64))
    source_video_id: Mapped[str | None] = mapped_column(String(64))  # extend / edit input
    input_key: Mapped[str | None] = mapped_column(String(300))  # storage key of an uploaded input
    input_consent: Mapped[bool] = mapped_column(Boolean, default=False)  # may the upload be used for training?
    files: Mapped[str | None] = mapped_column(Text)  # JSON: variant -> storage key
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_ns: Mapped[int] = mapped_column(BigInteger, index=True)  # list order; ties broken by id
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[float | None] = mapped_column(Float)
    enqueued_at: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds of video asked for (quotas)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes stored for it (quotas)
    warnings: Mapped[str | None] = mapped_column(Text)  # JSON list: what the API said of a request it still made
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)  # variations made together (n > 1)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the webhook-id header
    video_id: Mapped[str] = mapped_column(String(64), ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|delivered|gave_up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    owner_id: Mapped[str | None] = mapped_column(String(64))  # None: the installation's endpoint; else this account's


# --- accounts (issue: several people sharing one studio) ---------------------------------------
class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    lock_version: Mapped[int] = mapped_column(Integer, default=0)  # bumped to serialise quota checks
    # per-user quota overrides; None: the studio's default
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer)
    videos_per_day: Mapped[int | None] = mapped_column(Integer)
    seconds_per_day: Mapped[float | None] = mapped_column(Float)
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    webhook_url: Mapped[str | None] = mapped_column(Text)  # this account's own endpoint for its videos' events
    webhook_secret: Mapped[str | None] = mapped_column(String(100))  # whsec_...: signs them


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token in the link
    created_by: Mapped[str | None] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    used_by: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown for recognition: kin_ + 8 characters
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the whole key
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)  # time_ns: the order
    actor: Mapped[str] = mapped_column(String(64), index=True)  # user id, "anonymous", "system" or "deleted-..."
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON; never passwords or whole keys


class Character(Base):
    """A subject taken from a clip or image its owner uploaded, used in prompts as @name by its owner and
    whom the owner allows (see studio/characters.py)."""

    __tablename__ = "characters"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)  # None: the open studio's
    name: Mapped[str] = mapped_column(String(64))  # as given; used in prompts as @name
    handle: Mapped[str] = mapped_column(String(64), unique=True)  # the name in lower case: one per studio
    kind: Mapped[str] = mapped_column(String(16))  # what was uploaded: image | video
    upload_key: Mapped[str] = mapped_column(String(300))  # storage key of the upload as sent
    reference_key: Mapped[str] = mapped_column(String(300))  # storage key of the reference frame (PNG)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # both files (quotas)
    input_consent: Mapped[bool] = mapped_column(Boolean, default=False)  # may the upload be used for training?
    sharing: Mapped[str] = mapped_column(String(16), default="private")  # private | accounts | studio
    shared_with: Mapped[str | None] = mapped_column(Text)  # JSON list of user ids (sharing == "accounts")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class EngineSpeed(Base):
    """How fast each engine has been measured to work, for the queue's time estimates
    (see studio/estimates.py): seconds per denoising step of one 64x64 frame, averaged over its jobs."""

    __tablename__ = "engine_speeds"

    engine: Mapped[str] = mapped_column(String(200), primary_key=True)
    seconds_per_step_frame: Mapped[float] = mapped_column(Float)
    jobs: Mapped[int] = mapped_column(Integer, default=0)  # how many finished jobs the figure is from
    updated_at: Mapped[float] = mapped_column(Float)
