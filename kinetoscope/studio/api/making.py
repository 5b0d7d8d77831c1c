"""What every way of making a video shares: the engine a request names, its settings as a resolved
`GenerationRequest`, the policy check, the video's warnings, and the job itself (created with the
owner's quota checked in the same transaction)."""

from __future__ import annotations

import dataclasses
import io

from fastapi import Request

from kinetoscope.pipeline import GenerationRequest, RequestError
from kinetoscope.request import new_seed
from kinetoscope.studio import audit, jobs
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError, not_found

# request fields -> the API field a client sets them with
PARAMS = {"width": "size", "height": "size", "given_frames": "input_reference", "given_mask": "input_reference"}


def svc_of(request: Request):
    return request.app.state.svc


def owner_of(request: Request) -> str | None:
    return getattr(request.state, "owner_id", None)

def owned(request: Request, video_id: str):
    """The caller's video `video_id` (a 404 where it is not theirs, or none)."""
    row = jobs.get(svc_of(request).sessions, video_id, owner_of(request))
    if row is None:
        raise not_found("video", video_id)
    return row


def request_error(e: RequestError, default: str | None = None) -> ApiError:
    """The 400 for a RequestError: the field it carries, as the API names it (`default` where it names none)."""
    field = getattr(e, "field", None)
    return ApiError(400, str(e), "invalid_value", PARAMS.get(field, field) or default)


def engine_for(svc, model: str | None):
    """(the model name asked for, its engine): the name may be an operator's alias, e.g. sora-2."""
    name = model or svc.settings.default_model
    if svc.engines.engine_of(name) is None:
        aliases = svc.engines.aliases
        also = f", or an alias: {', '.join(f'{a} ({e})' for a, e in aliases.items())}" if aliases else ""
        raise ApiError(400, f"model {name!r} is not available: use one of {', '.join(svc.engines.names())}{also}",
                       "model_not_found", "model")
    try:
        return name, svc.engines.get(name)
    except (FileNotFoundError, ValueError, ImportError) as e:
        raise ApiError(503, f"model {name!r} could not be loaded: {e}", "model_unavailable", "model") from None

def generation_request(svc, fields: dict, engine, base: GenerationRequest | None = None) -> GenerationRequest:
    width, height = forms.parse_size(forms.text(fields, "size"))
    seconds = forms.number(fields, "seconds", float)
    task = forms.text(fields, "task", "t2v")
    b = base or GenerationRequest(prompt="")
    req = dataclasses.replace(
        b,
        prompt=forms.text(fields, "prompt", required=base is None) or b.prompt,
        negative_prompt=forms.text(fields, "negative_prompt", b.negative_prompt),
        width=width or b.width, height=height or b.height,
        seconds=seconds if seconds is not None else b.seconds,
        frames=1 if task == "image" else (None if (seconds is not None or base is None) else b.frames),
        fps=forms.number(fields, "fps", int, b.fps), steps=forms.number(fields, "steps", int, b.steps),
        guidance=forms.number(fields, "guidance", float, b.guidance),
        guidance_floor=forms.number(fields, "guidance_floor", float, b.guidance_floor),
        seed=forms.number(fields, "seed", int, None if base is None else b.seed),
        sampler=forms.text(fields, "sampler", b.sampler),
    )
    if req.seed is None:  # a new one each time, as on the command line; stored, so the recipe re-renders exactly
        req = dataclasses.replace(req, seed=new_seed())
    try:
        return engine.resolve(req)
    except RequestError as e:
        raise request_error(e) from None


def read_upload_image(svc, data: bytes, name: str, owner=None):
    from kinetoscope.media import MediaError, read_image

    try:
        image = read_image(data, max_pixels=svc.settings.max_upload_pixels, max_bytes=svc.settings.max_upload_bytes)
    except MediaError as e:
        problem = f", which {e.problem}" if e.problem.startswith("is ") else f": {e.problem}"
        raise ApiError(400, f"{name}: received {forms.describe_upload(data)}{problem}. Accepted: a {forms.IMAGE_TYPES} "
                            f"image of at most {svc.settings.max_upload_bytes} bytes and {svc.settings.max_upload_pixels} "
                            "pixels", "invalid_image", name) from None
    moderate(svc, owner, "", name, frames=image[None])
    return image


def png(image) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def seconds_label(req: GenerationRequest) -> str:
    return f"{(req.frames - 1) / req.fps:g}" if req.frames > 1 else "0"


def moderate(svc, owner, text: str, param: str, frames=None, filename: str = "") -> None:
    """The policy stage before anything is queued: a refusal is a 400 `moderation_blocked` and an
    audit entry naming the category and rule (the refused text only if the policy says so)."""
    from kinetoscope.safety import PolicyRefusal, check_upload, enforce, load_policy

    policy = load_policy(svc.settings.policy_file or None)
    try:
        if frames is not None:
            decision = check_upload(frames, policy, filename)
            if not decision.allowed:
                raise PolicyRefusal(decision, param)
        elif text:
            enforce(text, policy, param)
    except PolicyRefusal as e:
        extra = {"text": text} if policy.record_text and text else {}
        audit.log(svc.sessions, owner, "moderation.refused", None, None, category=e.category,
                  rule=e.decision.rule, field=param, **extra)
        raise ApiError(400, str(e), e.code, param) from None


def word_warnings(svc, model: str, *texts: str | None) -> list[str]:
    """The video object's warnings: the words of `texts` that the model never saw in training and the
    background colours its world never drew, where it records its training words or world (the
    built-in model; open-weight engines record neither)."""
    from kinetoscope.vocabulary import prompt_warning

    pipe = getattr(svc.engines.get(model), "pipeline", None)
    line = prompt_warning(pipe.config if pipe is not None else None, *texts)
    return [line] if line else []


def create_job(svc, **kw):
    """jobs.create with the owner's quota checked in the same transaction, and the video's warnings."""
    from kinetoscope.studio import characters
    from kinetoscope.studio.quotas import QuotaExceeded, guard

    req = kw["request"]
    owner = kw.get("owner_id")
    if svc.engines.engine_of(kw["model"]) != kw["model"]:  # an alias: the video says the name asked for,
        req["engine"] = svc.engines.engine_of(kw["model"])  # its recipe the engine that makes it
    texts = [s["prompt"] for s in req["shots"]] if kw.get("task") == "storyboard" else [kw["prompt"]]
    kw["warnings"] = [*(kw.get("warnings") or []), *word_warnings(svc, kw["model"], *characters.without_mentions(*texts),
                                                                   req.get("negative_prompt"))]
    room = kw.pop("room", 1)  # jobs this request still makes, this one included (variations): all must fit
    duration = (req["frames"] - 1) / req["fps"] if req.get("frames", 1) > 1 else 0.0
    if kw.get("task") == "extend":
        duration = float(req.get("extend_seconds", 0.0))
    if kw.get("task") == "storyboard":
        duration = float(req["storyboard_seconds"])
    try:
        moderate(svc, owner, kw["prompt"], "prompt")
        moderate(svc, owner, req.get("negative_prompt") or "", "negative_prompt")
        characters.cast(svc, owner, kw)  # a character the prompt names (@name): usable by the caller, in the recipe
        stored = svc.storage.path(kw["input_key"]).stat().st_size if kw.get("input_key") else 0  # the upload counts
        return jobs.create(svc.sessions, svc.queue, svc.settings, duration=duration, size_bytes=stored,
                           guard=characters.audited(guard(owner, duration, svc.settings, stored, count=room) if owner
                                                    else None, owner, kw), **kw)
    except Exception as e:
        svc.storage.delete_prefix(kw["video_id"])  # an upload stored for it
        if isinstance(e, QuotaExceeded):
            raise ApiError(429, str(e), e.code, headers={"Retry-After": "60"}) from None
        raise
