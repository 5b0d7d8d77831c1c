"""Studio settings: the one place every studio option is read (environment variables).

    KINETOSCOPE_DATA_DIR        where the embedded database, queue, files and keys live
                                (default ~/.local/share/kinetoscope)
    KINETOSCOPE_DATABASE_URL    SQLAlchemy URL (default sqlite:///DATA_DIR/studio.db, WAL mode);
                                e.g. postgresql+psycopg://user@host/db to scale out
    KINETOSCOPE_REDIS_URL       redis://host:6379/0 to carry jobs over Redis (default: a SQLite queue file)
    KINETOSCOPE_STORAGE_DIR     where videos are written (default DATA_DIR/files)
    KINETOSCOPE_ENGINES         extra engines: "name=spec;name2=spec2" or a YAML file (see kinetoscope/engines/registry.py)
    KINETOSCOPE_DEFAULT_MODEL   the model used when a request names none (default: the built-in model)
    KINETOSCOPE_MODEL_ALIASES   more names for engines: "name=engine,name2=engine", e.g.
                                sora-2=kinetoscope-builtin,sora-2-pro=kinetoscope-builtin, so that code written
                                for OpenAI's Videos API runs unchanged (its videos report the name it asked for)
    KINETOSCOPE_ALLOW_REMOTE_REFERENCES  1 lets input_reference be an http(s) image URL, fetched by the studio
                                from public addresses only (default: data: URLs and uploads only)
    KINETOSCOPE_REMOTE_REFERENCE_TIMEOUT  seconds a remote input_reference may take to arrive (default 10)
    KINETOSCOPE_WEBHOOK_URL     POST video.completed / video.failed events here
    KINETOSCOPE_WEBHOOK_SECRET  whsec_... secret used to sign them (Standard Webhooks)
    KINETOSCOPE_WEBHOOK_ALLOW_PRIVATE  1 lets accounts' own webhooks (PUT /v1/me/webhook) call
                                loopback and private addresses (default: public addresses only)
    KINETOSCOPE_POLICY          the prompt/upload policy file (default: kinetoscope/safety/default_policy.yaml)
    KINETOSCOPE_SIGN_PROMPT     name the prompt in the signed C2PA manifest (default: only a keyed hash of the recipe)
    KINETOSCOPE_WATERMARK       0 turns the invisible watermark off
    KINETOSCOPE_PREVIEWS        0 turns off live previews of a video as it is made (default on)
    KINETOSCOPE_SECONDS_PER_STEP_FRAME  the time estimate's seconds per denoising step of one 64x64 frame
                                for an engine no job has measured yet (default 0.01); measured per
                                engine as jobs finish (kinetoscope/studio/estimates.py)
    KINETOSCOPE_MAX_UPLOAD_BYTES, KINETOSCOPE_LEASE_SECONDS, KINETOSCOPE_MAX_ATTEMPTS,
    KINETOSCOPE_RETENTION_HOURS, KINETOSCOPE_WORKER_THREADS, KINETOSCOPE_MAX_EVENT_STREAMS
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

BUILTIN_MODEL = "kinetoscope-builtin"
BUILTIN_FAST_MODEL = f"{BUILTIN_MODEL}-fast"  # the built-in model's fast setting, where its folder ships one
ALIASES_ENV = "KINETOSCOPE_MODEL_ALIASES"


def default_data_dir() -> Path:
    env = os.environ.get("KINETOSCOPE_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "kinetoscope"


def parse_engines(value: str) -> dict:
    """KINETOSCOPE_ENGINES ("name=spec;..." or a YAML file) -> {name: EngineConfig}, read by the
    engine registry's own parser. The built-in model is always there (KINETOSCOPE_BUILTIN re-points it)."""
    from kinetoscope.engines.registry import BUILTIN, BUILTIN_FAST, configured

    return {n: c for n, c in configured(value).items() if n not in (BUILTIN, BUILTIN_FAST)}


def parse_aliases(value: str) -> dict[str, str]:
    """KINETOSCOPE_MODEL_ALIASES ("name=engine,name2=engine") -> {name: engine}."""
    from kinetoscope.engines.registry import NAME

    aliases: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, eq, engine = (x.strip() for x in part.partition("="))
        if not eq or not name or not engine:
            raise ValueError(f"{part!r} is not name=engine (entries are separated by ',')")
        for word in (name, engine):
            if not NAME.match(word):
                raise ValueError(f"{word!r} in {part!r} is not a model name: use letters, digits, '.', '_' or '-' (1 to 64)")
        if aliases.get(name, engine) != engine:
            raise ValueError(f"{name!r} is given twice, as {aliases[name]!r} and as {engine!r}")
        aliases[name] = engine
    return aliases


def check_aliases(aliases: dict[str, str], engines) -> None:
    """Every alias names a configured engine (not another alias) and hides none."""
    engines = list(engines)
    for name, engine in aliases.items():
        if name in engines:
            raise ValueError(f"{ALIASES_ENV}: alias {name!r} is already an engine's name; pick another name")
        if engine not in engines:
            raise ValueError(f"{ALIASES_ENV}: alias {name!r} names engine {engine!r}, which is not configured: "
                             f"engines are {', '.join(engines)}")


def engine_names(s: "Settings") -> list[str]:
    """The engines' model names: the built-in model, its fast setting where its folder ships one, KINETOSCOPE_ENGINES's."""
    from kinetoscope.engines.registry import ships_fast

    return [BUILTIN_MODEL, *([BUILTIN_FAST_MODEL] if ships_fast(s.builtin_spec) else []), *s.engines]


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""  # "" -> SQLite in data_dir
    redis_url: str = ""  # "" -> SQLite-backed queue in data_dir
    storage_dir: Path | None = None  # None -> data_dir/files
    engines: dict = field(default_factory=dict)  # name -> spec or EngineConfig; the built-in model is always there
    default_model: str = BUILTIN_MODEL
    model_aliases: dict = field(default_factory=dict)  # name -> engine name, e.g. {"sora-2": "kinetoscope-builtin"}
    builtin_spec: str = "builtin"  # the folder behind the built-in model name (tests use a tiny one)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_allow_private: bool = False  # let accounts' webhooks call loopback/private addresses
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_pixels: int = 4096 * 4096
    allow_remote_references: bool = False  # input_reference may be an http(s) URL (public addresses only)
    remote_reference_seconds: float = 10.0  # the most a remote input_reference may take to arrive
    lease_seconds: float = 30.0  # a job whose worker has not beaten its heart for this long is retried
    heartbeat_seconds: float = 2.0
    max_attempts: int = 3
    retention_hours: float = 24.0 * 7  # expires_at; expired videos are deleted by the reaper
    poll_after_ms: int = 1000
    max_event_streams: int = 8  # open GET /v1/videos/{id}/events streams per account (or address); 0: no limit
    embedded_worker: bool = True  # `kinetoscope serve` runs one worker in-process
    worker_threads: int | None = None  # torch threads per worker (None: the machine's default)
    page_size: int = 20
    policy_file: str = ""  # the prompt/upload policy (YAML); "" -> the shipped default policy
    sign_prompt: bool = False  # name the prompt in each video's signed C2PA manifest
    watermark: bool = True  # the invisible watermark (installation id + video id) in every video
    # accounts: a studio bound to loopback with no users needs no login ("open"); otherwise it does
    open_mode: bool = True
    cookie_secure: bool = False  # set the Secure flag on cookies (behind HTTPS)
    rate_limit_per_minute: int = 600  # API requests per account (or address) per minute; 0: no limit
    login_attempts_per_minute: int = 10  # per address and username
    quota_concurrent_jobs: int = 4
    quota_videos_per_day: int = 500
    quota_seconds_per_day: float = 3600.0
    quota_storage_bytes: int = 5 * 1024**3
    previews: bool = True  # live previews of the clean estimate while a video samples
    seconds_per_step_frame: float = 0.01  # the estimate for an unmeasured engine: one step of one 64x64 frame

    @property
    def files_dir(self) -> Path:
        return Path(self.storage_dir) if self.storage_dir else Path(self.data_dir) / "files"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'studio.db'}"

    def with_(self, **kw) -> "Settings":
        return replace(self, **kw)


_ENV = {
    "data_dir": ("KINETOSCOPE_DATA_DIR", Path),
    "database_url": ("KINETOSCOPE_DATABASE_URL", str),
    "redis_url": ("KINETOSCOPE_REDIS_URL", str),
    "storage_dir": ("KINETOSCOPE_STORAGE_DIR", Path),
    "engines": ("KINETOSCOPE_ENGINES", parse_engines),
    "default_model": ("KINETOSCOPE_DEFAULT_MODEL", str),
    "model_aliases": (ALIASES_ENV, parse_aliases),
    "builtin_spec": ("KINETOSCOPE_BUILTIN", str),
    "webhook_url": ("KINETOSCOPE_WEBHOOK_URL", str),
    "webhook_secret": ("KINETOSCOPE_WEBHOOK_SECRET", str),
    "webhook_allow_private": ("KINETOSCOPE_WEBHOOK_ALLOW_PRIVATE", lambda v: v.lower() in ("1", "true", "yes")),
    "max_upload_bytes": ("KINETOSCOPE_MAX_UPLOAD_BYTES", int),
    "allow_remote_references": ("KINETOSCOPE_ALLOW_REMOTE_REFERENCES", lambda v: v.lower() in ("1", "true", "yes")),
    "remote_reference_seconds": ("KINETOSCOPE_REMOTE_REFERENCE_TIMEOUT", float),
    "lease_seconds": ("KINETOSCOPE_LEASE_SECONDS", float),
    "max_attempts": ("KINETOSCOPE_MAX_ATTEMPTS", int),
    "retention_hours": ("KINETOSCOPE_RETENTION_HOURS", float),
    "worker_threads": ("KINETOSCOPE_WORKER_THREADS", int),
    "max_event_streams": ("KINETOSCOPE_MAX_EVENT_STREAMS", int),
    "cookie_secure": ("KINETOSCOPE_COOKIE_SECURE", lambda v: v.lower() in ("1", "true", "yes")),
    "policy_file": ("KINETOSCOPE_POLICY", str),
    "sign_prompt": ("KINETOSCOPE_SIGN_PROMPT", lambda v: v.lower() in ("1", "true", "yes")),
    "watermark": ("KINETOSCOPE_WATERMARK", lambda v: v.lower() not in ("0", "false", "no")),
    "rate_limit_per_minute": ("KINETOSCOPE_RATE_LIMIT_PER_MINUTE", int),
    "login_attempts_per_minute": ("KINETOSCOPE_LOGIN_ATTEMPTS_PER_MINUTE", int),
    "quota_concurrent_jobs": ("KINETOSCOPE_QUOTA_CONCURRENT_JOBS", int),
    "quota_videos_per_day": ("KINETOSCOPE_QUOTA_VIDEOS_PER_DAY", int),
    "quota_seconds_per_day": ("KINETOSCOPE_QUOTA_SECONDS_PER_DAY", float),
    "quota_storage_bytes": ("KINETOSCOPE_QUOTA_STORAGE_BYTES", int),
    "previews": ("KINETOSCOPE_PREVIEWS", lambda v: v.lower() not in ("0", "false", "no")),
    "seconds_per_step_frame": ("KINETOSCOPE_SECONDS_PER_STEP_FRAME", float),
}


def from_env(**overrides) -> Settings:
    kw = {}
    for name, (var, conv) in _ENV.items():
        if os.environ.get(var):
            try:
                kw[name] = conv(os.environ[var])
            except ValueError as e:
                raise ValueError(f"{var}={os.environ[var]!r}: {e}") from None
    known = {f.name for f in fields(Settings)}
    kw.update({k: v for k, v in overrides.items() if k in known and v is not None})
    settings = Settings(**kw)
    check_aliases(settings.model_aliases, engine_names(settings))  # at startup, not at the first request
    return settings
