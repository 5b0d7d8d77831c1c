"""Characters: a subject (a drawing, an object, a figure) taken from a short clip or an image its owner
uploads, used in a prompt by its name (`@ada`) by its owner and by whom the owner allows: only the owner
(`private`), some accounts (`accounts`), or everyone on this studio (`studio`). Sharing can change at any
time; every request checks it (the API when the video is asked for, the worker again before it is made).

What a character does to a generation is the engine's: the built-in model is given the character's
reference frame as the video's first frame (`given_frame`, the image-to-video path); an open-weight
engine gets it as its family's reference-image input (`reference_image`, the image of its image-to-video
pipeline); an engine with neither refuses it. Each use is an audit entry (`character.use`, the video's id
in its detail), which is also where the owner reads where the character was used, and every video made
with one names it as a C2PA ingredient (see `ingredients`). The upload counts in the owner's storage
quota and is training data only with the owner's consent (`input_consent`, as for videos' uploads).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinetoscope.pipeline import RequestError
from kinetoscope.studio import audit
from kinetoscope.studio.models import AuditEntry, Character, User
from kinetoscope.studio.quotas import QuotaExceeded, check_storage

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_-]*)")  # "@ada" in a prompt, not "me@example.com"
SHARING = ("private", "accounts", "studio")
TASKS = ("t2v", "remix")  # the tasks whose first frame is free for a character
MAX_CLIP_FRAMES = 300  # a short clip: 10 s at 30 fps
IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
CLIP_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif", ".avi")
USES_SHOWN = 100


class CharacterError(ValueError):
    """Something the caller can fix (or is not allowed): an HTTP status, an error code and the field."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def now() -> int:
    return int(time.time())


def check_name(name: str | None) -> str:
    if not name or not NAME.match(name):
        raise CharacterError(400, f"name {name!r} is not allowed: 1 to 32 letters, digits, '_' or '-', starting with a "
                                  "letter (it is written in prompts as @name)", "invalid_value", "name")
    return name


def mentions(*texts: str | None) -> list[str]:
    """The characters a prompt names (@name), lower case, each once, in order."""
    out: list[str] = []
    for text in texts:
        for m in MENTION.finditer(text or ""):
            if m.group(1).lower() not in out:
                out.append(m.group(1).lower())
    return out


def without_mentions(*texts: str) -> list[str]:
    """The texts with their @name mentions taken out (a character is drawn from its reference frame, not
    from its name: the model's word warnings leave the names out)."""
    return [MENTION.sub(" ", t or "") for t in texts]


# --- the upload -----------------------------------------------------------------------------------
def read_upload(settings, data: bytes, filename: str | None = None) -> tuple[np.ndarray, str, str]:
    """(frames (T, H, W, 3) uint8, kind "image" | "video", file suffix) of an uploaded image or short clip."""
    from PIL import Image

    from kinetoscope.media import MediaError, read_image, read_video

    fmt = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
    except Exception:  # noqa: BLE001 - not an image Pillow knows: maybe a clip
        pass
    if fmt in IMAGE_SUFFIXES:
        try:
            image = read_image(data, max_pixels=settings.max_upload_pixels, max_bytes=settings.max_upload_bytes)
        except MediaError as e:
            raise _unreadable(settings, data, filename, e.problem) from None
        return image[None], "image", IMAGE_SUFFIXES[fmt]
    suffix = Path(filename or "").suffix.lower()
    suffix = suffix if suffix in CLIP_SUFFIXES else ".mp4"
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        try:
            frames, _ = read_video(f.name, max_frames=MAX_CLIP_FRAMES, max_pixels=settings.max_upload_pixels,
                                   max_bytes=max(settings.max_upload_bytes, 256 * 1024 * 1024))
        except MediaError as e:
            raise _unreadable(settings, data, filename, e.problem) from None
    return frames, "video", suffix


def _unreadable(settings, data: bytes, filename: str | None, problem: str) -> CharacterError:
    shown = f'"{filename[:100]}" ({len(data)} bytes)' if filename else f"a file of {len(data)} bytes"
    return CharacterError(400, f"video: received {shown}, which {problem if problem.startswith(('is ', 'has ')) else 'is not readable: ' + problem}. "
                               f"Accepted: a short clip (at most {MAX_CLIP_FRAMES} frames) or a PNG, JPEG or WebP image, "
                               f"at most {settings.max_upload_bytes} bytes", "invalid_file", "video")


def reference_frame(frames: np.ndarray) -> np.ndarray:
    """The frame that best shows the subject: the one with the most content (as the poster is chosen)."""
    from kinetoscope.media.write import poster_frame

    return frames[poster_frame(frames)]


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


# --- rows -------------------------------------------------------------------------------------------
def create(svc, owner: str | None, name: str, data: bytes, frames: np.ndarray, kind: str, suffix: str,
           consent: bool = False, ip: str | None = None) -> Character:
    """Store the upload and its reference frame, then the row (quota and name checked in its transaction)."""
    name = check_name(name)
    cid = "char_" + secrets.token_hex(12)
    reference = _png(reference_frame(frames))
    t = now()
    row = Character(id=cid, owner_id=owner, name=name, handle=name.lower(), kind=kind,
                    upload_key=f"{cid}/upload{suffix}", reference_key=f"{cid}/reference.png",
                    size_bytes=len(data) + len(reference), input_consent=bool(consent), sharing="private",
                    shared_with=None, created_at=t, updated_at=t)
    try:
        svc.storage.put_bytes(row.upload_key, data)
        svc.storage.put_bytes(row.reference_key, reference)
        with svc.sessions.begin() as s:
            if owner is not None:
                check_storage(s, owner, svc.settings, row.size_bytes)
            if s.scalar(select(Character.id).where(Character.handle == row.handle)):
                raise _taken(name)
            s.add(row)
            s.flush()
            audit.record(s, owner, "character.create", cid, ip, name=name, kind=kind, training_consent=row.input_consent)
    except IntegrityError:  # two creators of one name at once
        svc.storage.delete_prefix(cid)
        raise _taken(name) from None
    except BaseException:
        svc.storage.delete_prefix(cid)
        raise
    return row


def _taken(name: str) -> CharacterError:
    return CharacterError(409, f"name {name!r} is taken on this studio: pick another (names are shared by everyone "
                               "here, so that @name means one character)", "name_taken", "name")


def _possible_id(cid: str) -> bool:
    return 0 < len(cid) <= 64 and "\x00" not in cid


def get(sf, cid: str) -> Character | None:
    if not _possible_id(cid):
        return None
    with sf() as s:
        return s.get(Character, cid)


def shared_ids(c: Character) -> list[str]:
    return json.loads(c.shared_with or "[]")


def may_use(c: Character, user_id: str | None) -> bool:
    """Whether `user_id` (None: the open studio) may see and use `c`: its owner, or whom its sharing names."""
    if c.owner_id == user_id:
        return True
    if user_id is None:
        return False
    return c.sharing == "studio" or (c.sharing == "accounts" and user_id in shared_ids(c))


def visible(sf, cid: str, user_id: str | None) -> Character | None:
    c = get(sf, cid)
    return c if c is not None and may_use(c, user_id) else None


def owned(sf, cid: str, user_id: str | None) -> Character | None:
    c = get(sf, cid)
    return c if c is not None and c.owner_id == user_id else None


def listing(sf, user_id: str | None) -> list[Character]:
    """The caller's characters and those shared with them, newest first."""
    q = select(Character).order_by(Character.created_at.desc(), Character.id.desc())
    if user_id is None:
        q = q.where(Character.owner_id.is_(None))
    else:
        q = q.where(or_(Character.owner_id == user_id, Character.sharing.in_(("studio", "accounts"))))
    with sf() as s:
        return [c for c in s.scalars(q) if may_use(c, user_id)]


def usernames(sf, ids) -> dict[str, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    with sf() as s:
        return dict(s.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def share(svc, owner: str | None, cid: str, sharing: str, accounts: list[str] | None = None,
          ip: str | None = None) -> Character:
    """Set who may use the character: `private` (the owner only: a revoke), `accounts` (these usernames)
    or `studio` (every account here). Takes effect on the next request."""
    if owner is None:
        raise CharacterError(400, "this studio is open (no accounts yet): there is nobody to share a character with",
                             "no_accounts", "sharing")
    if sharing not in SHARING:
        raise CharacterError(400, f"sharing {sharing!r} is not allowed: use {', '.join(SHARING)}", "invalid_value", "sharing")
    accounts = [a.strip().lower() for a in (accounts or []) if a and a.strip()]
    if sharing != "accounts" and accounts:
        raise CharacterError(400, f"accounts are only for sharing 'accounts' (got sharing {sharing!r})",
                             "invalid_value", "accounts")
    if sharing == "accounts" and not accounts:
        raise CharacterError(400, "sharing 'accounts' needs accounts: the usernames to share with", "missing_required_parameter",
                             "accounts")
    with svc.sessions.begin() as s:
        c = s.get(Character, cid) if _possible_id(cid) else None
        if c is None or c.owner_id != owner:
            raise CharacterError(404, f"No character found with id {cid!r}.", "not_found", "id")
        found = dict(s.execute(select(User.username, User.id).where(User.username.in_(accounts))).all()) if accounts else {}
        missing = [a for a in accounts if a not in found]
        if missing:
            raise CharacterError(400, f"accounts: no account is called {', '.join(map(repr, missing))}", "invalid_value",
                                 "accounts")
        ids = [found[a] for a in dict.fromkeys(accounts) if found[a] != owner]
        c.sharing, c.shared_with, c.updated_at = sharing, json.dumps(ids) if sharing == "accounts" else None, now()
        audit.record(s, owner, "character.share", cid, ip, name=c.name, sharing=sharing,
                     accounts=list(dict.fromkeys(a for a in accounts if found[a] != owner)))
    return c


def delete(svc, owner: str | None, cid: str, ip: str | None = None) -> bool:
    """Remove the row and its files; videos made with it keep theirs (and their manifests name it)."""
    with svc.sessions.begin() as s:
        c = s.get(Character, cid) if _possible_id(cid) else None
        if c is None or c.owner_id != owner:
            return False
        audit.record(s, owner, "character.delete", cid, ip, name=c.name)
        s.delete(c)
    svc.storage.delete_prefix(cid)
    return True


def delete_all(svc, s: Session, owner: str) -> list[str]:
    """In an account deletion's transaction: the account's characters' rows; returns their ids (whose
    files the caller removes once it has committed)."""
    ids = list(s.scalars(select(Character.id).where(Character.owner_id == owner)))
    if ids:
        s.query(Character).filter(Character.id.in_(ids)).delete(synchronize_session=False)
    return ids


def uses(sf, cid: str, limit: int = USES_SHOWN) -> list[dict]:
    """Where a character was used, newest first: the audit log's `character.use` entries."""
    with sf() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "character.use", AuditEntry.target == cid)
                              .order_by(AuditEntry.seq.desc()).limit(limit)))
    names = usernames(sf, {e.actor for e in rows})
    out = []
    for e in rows:
        detail = json.loads(e.detail) if e.detail else {}
        out.append({"video_id": detail.get("video_id"), "model": detail.get("model"), "at": int(e.at),
                    "by": names.get(e.actor, "a deleted account" if e.actor.startswith("deleted-") else e.actor)})
    return out


def use_count(sf, cid: str) -> int:
    from sqlalchemy import func

    with sf() as s:
        return s.scalar(select(func.count()).where(AuditEntry.action == "character.use", AuditEntry.target == cid))


# --- in a request ---------------------------------------------------------------------------------
def used_as(engine, model: str) -> str:
    """How `engine` takes a character, or a 400 naming what it supports: the built-in model is given its
    reference frame as the first frame; an open-weight engine takes it as its family's reference image."""
    if getattr(engine, "pipeline", None) is not None:
        return "given_frame"
    supported = engine.capabilities.tasks
    if "i2v" in supported:
        return "reference_image"
    raise CharacterError(400, f"model {model!r} cannot use characters: a character is given to a model as a reference "
                              f"image (image-to-video), which {model!r} does not take; it supports "
                              f"{', '.join(supported)}", "unsupported_character", "model")


def resolve(sf, user_id: str | None, handles: list[str]) -> list[Character]:
    """The characters named, each one the caller may use: 400 for a name no character has, 403 for one
    not shared with the caller (named, so they know which)."""
    out = []
    with sf() as s:
        for handle in handles:
            c = s.scalar(select(Character).where(Character.handle == handle))
            if c is None:
                raise CharacterError(400, f"prompt names @{handle}, but no character on this studio is called that: "
                                          "yours and those shared with you are at GET /v1/videos/characters",
                                     "character_not_found", "prompt")
            if not may_use(c, user_id):
                raise CharacterError(403, f"character @{c.name} ({c.id}) is not shared with you: only its owner, and "
                                          "those the owner shares it with, may use it", "character_not_shared", "prompt")
            out.append(c)
    return out


def cast(svc, owner: str | None, job: dict) -> None:
    """A job about to be created (`_create_job`'s keywords): the characters its prompt names, checked and
    written into its recipe (`request["characters"]`), or a CharacterError."""
    req = job["request"]
    texts = [shot["prompt"] for shot in req.get("shots") or []] or [job["prompt"], req.get("prompt")]
    handles = mentions(*texts)
    if not handles:
        return
    found = resolve(svc.sessions, owner, handles)
    if len(found) > 1:
        raise CharacterError(400, f"prompt names {len(found)} characters ({', '.join('@' + c.name for c in found)}): "
                                  "a video can use one (its reference frame starts the video)", "invalid_value", "prompt")
    task = job.get("task", "t2v")
    if task not in TASKS or job.get("input_key"):
        why = "an input image or video of its own" if job.get("input_key") else f"task {task!r}"
        raise CharacterError(400, f"character @{found[0].name} cannot be used with {why}: a character gives the "
                                  "video its first frame, so it is for text-to-video (t2v) and its remixes",
                             "invalid_value", "prompt")
    model = job["model"]
    how = used_as(svc.engines.get(model), model)
    req["characters"] = [{"id": c.id, "name": c.name, "used_as": how} for c in found]


def audited(check, owner: str | None, job: dict):
    """The job-creating transaction's guard, plus: each character is still there and usable (checked in the
    transaction that makes the job) and its use is an audit entry."""
    chars = job["request"].get("characters") or []
    if not chars:
        return check

    def guard(s: Session) -> None:
        if check is not None:
            check(s)
        for ref in chars:
            c = s.get(Character, ref["id"])
            if c is None or not may_use(c, owner):
                raise CharacterError(403, f"character @{ref['name']} ({ref['id']}) is not shared with you", "character_not_shared",
                                     "prompt")
            audit.record(s, owner, "character.use", c.id, None, video_id=job["video_id"], name=c.name, model=job["model"])

    return guard


# --- in the worker --------------------------------------------------------------------------------
def reference_of(svc, ref: dict, owner: str | None) -> Path:
    """The reference frame of a recipe's character, checked again as the video is made."""
    c = get(svc.sessions, ref["id"])
    if c is None:
        raise RequestError(f"character @{ref['name']} ({ref['id']}) was deleted by its owner before this video was made")
    if not may_use(c, owner):
        raise RequestError(f"character @{ref['name']} ({ref['id']}) is no longer shared with you: its owner revoked it "
                           "before this video was made")
    return svc.storage.path(c.reference_key)


def generate(svc, row, engine, progress):
    """The video of a job whose recipe names a character: its reference frame as the first frame (the
    built-in model's given frame, or an open-weight engine's reference image), as image-to-video does."""
    import dataclasses

    from kinetoscope import tasks
    from kinetoscope.media import read_image
    from kinetoscope.studio.recipes import task_call

    recipe = json.loads(row.request)
    image = read_image(reference_of(svc, recipe["characters"][0], row.owner_id))
    video = tasks.run(engine, "i2v", {"image": image}, progress=progress, **task_call("i2v", recipe))  # the one dispatcher
    named = [{"id": c["id"], "name": c["name"], "used_as": c["used_as"]} for c in recipe["characters"]]
    return dataclasses.replace(video, metadata={**video.metadata, "characters": named})


def ingredients(svc, row) -> list[tuple[Path, str]]:
    """(reference frame, ingredient title) of each character a job's recipe names, for its C2PA manifest."""
    out = []
    for ref in json.loads(row.request).get("characters") or []:
        c = get(svc.sessions, ref["id"])
        if c is not None and (path := svc.storage.path(c.reference_key)).is_file():
            out.append((path, f"character @{ref['name']} ({ref['id']})"))
    return out
