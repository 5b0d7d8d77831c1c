"""/v1/videos: the OpenAI Videos API (create, list, retrieve, delete, content, remix, edits,
extensions) plus progress as Server-Sent Events."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import weakref

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope import catalog
from kinetoscope.pipeline import GenerationRequest, RequestError
from kinetoscope.request import new_seed
from kinetoscope.studio import audit, estimates, jobs, previews
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError, not_found
from kinetoscope.studio.api.references import reference_image
from kinetoscope.studio.api.trained import trained_warnings
from kinetoscope.studio.recipes import STORYBOARD_SETTINGS, TASK_OPTIONS, job_task, request_of, stored_request
from kinetoscope.studio.worker import VARIANTS

router = APIRouter(prefix="/v1", tags=["videos"])
CREATE_TASKS = catalog.studio_tasks()  # what POST /v1/videos makes

CREATE_FIELDS = {
    "prompt": {"type": "string", "description": "what the video shows"},
    "model": {"type": "string", "description": "an engine name from GET /v1/models"},
    "seconds": {"type": "string", "description": "length in seconds, e.g. \"2\""},
    "size": {"type": "string", "description": "WIDTHxHEIGHT, e.g. 64x64"},
    "negative_prompt": {"type": "string"},
    "seed": {"type": "integer", "description": "same seed, same video; without one, a new random seed, "
             "returned as the video's `seed`"},
    "steps": {"type": "integer"},
    "guidance": {"type": "number"},
    "fps": {"type": "integer"},
    "task": {"type": "string", "enum": list(CREATE_TASKS)},
    "shots": {"type": "string", "description": "storyboard: one shot per line, \"TIME PROMPT\" (0s a red circle), or a "
              "JSON list of {at, prompt, transition}"},
    "transition": {"type": "string", "enum": list(catalog.TRANSITIONS), "description": "storyboard: how each shot is reached"},
    "input_reference": {"type": "string", "format": "binary", "description": "an image: the first frame"},
    "input_reference[image_url]": {"type": "string", "description": "the first frame as a data URL "
                                   "(data:image/png;base64,...), or an http(s) URL where the operator allows them"},
    "input_training_consent": {"type": "boolean", "description": "allow the upload to be used for training (default false)"},
    "n": {"type": "integer", "minimum": 1, "maximum": 4, "description": "variations: n videos with seeds seed, "
          "seed+1, ... sharing a group_id (the response lists them as `variations`)"},
}
_SCHEMA = {"type": "object", "properties": CREATE_FIELDS}  # prompt: required, except for a storyboard (shots)
_JSON_SCHEMA = {"type": "object", "properties": {
    **{k: v for k, v in CREATE_FIELDS.items() if not k.startswith("input_reference")},
    "input_reference": {"type": "object", "description": "the first frame", "properties": {
        "image_url": CREATE_FIELDS["input_reference[image_url]"]}}}}
CREATE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": _JSON_SCHEMA},
                                                             "multipart/form-data": {"schema": _SCHEMA}}}}


def svc_of(request: Request):
    return request.app.state.svc


def owner_of(request: Request) -> str | None:
    return getattr(request.state, "owner_id", None)


def _param_of(message: str) -> str | None:
    word = message.split(" ", 1)[0].lower()
    return {"width": "size", "height": "size", "negative": "negative_prompt", "given": "input_reference"}.get(
        word, word if word in CREATE_FIELDS or word in ("frames", "sampler") else None)


def request_error(e: Exception) -> ApiError:
    return ApiError(400, str(e), "invalid_value", _param_of(str(e)))


def _engine(svc, model: str | None):
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


def _video_response(svc, row, status: int = 200) -> JSONResponse:
    headers = {"openai-poll-after-ms": str(svc.settings.poll_after_ms)} if row.status not in jobs.TERMINAL else None
    return JSONResponse(estimates.video_object(svc.sessions, svc.settings, row), status_code=status, headers=headers)


def _generation_request(svc, fields: dict, engine, base: GenerationRequest | None = None) -> GenerationRequest:
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
        seed=forms.number(fields, "seed", int, None if base is None else b.seed),
        sampler=forms.text(fields, "sampler", b.sampler),
    )
    if req.seed is None:  # a new one each time, as on the command line; stored, so the recipe re-renders exactly
        req = dataclasses.replace(req, seed=new_seed())
    try:
        return engine.resolve(req)
    except RequestError as e:
        raise request_error(e) from None


def _read_upload_image(svc, data: bytes, name: str, owner=None):
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


def _png(image) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _seconds_label(req: GenerationRequest) -> str:
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
    """The video object's warnings: the words of `texts` that the model never saw in training, where it
    records its training words (the built-in model; open-weight engines record none)."""
    from kinetoscope.vocabulary import unknown_in, warning

    pipe = getattr(svc.engines.get(model), "pipeline", None)
    vocabulary = pipe.config.vocabulary if pipe is not None else None
    words = unknown_in(vocabulary, *texts)
    return [warning(words, vocabulary)] if words else []


def _create_job(svc, **kw):
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


def create_from_fields(svc, owner, fields: dict, files: dict[str, bytes], **group):
    """One job from the create fields; `group` (group_id, room) when it is one of several variations."""
    model, engine = _engine(svc, forms.text(fields, "model"))
    reference = fields.get("input_reference") if "input_reference" not in files else None  # the JSON form
    reference = None if reference in (None, "") else reference
    task = forms.text(fields, "task", "i2v" if "input_reference" in files or reference is not None else "t2v")
    if task not in CREATE_TASKS:
        raise ApiError(400, f"task {task!r} is not allowed here: use {', '.join(CREATE_TASKS)} "
                            "(extend: POST /v1/videos/extensions, remix: POST /v1/videos/{id}/remix)", "invalid_value", "task")
    if task not in engine.capabilities.tasks:
        raise ApiError(400, f"model {model!r} cannot do task {task!r}: it supports {', '.join(engine.capabilities.tasks)}",
                       "unsupported_task", "task")
    if task == "storyboard":
        if reference is not None:
            raise ApiError(400, "a storyboard takes no input_reference", "invalid_value", "input_reference")
        return _storyboard_job(svc, owner, model, engine, fields, files, **group)
    req = _generation_request(svc, {**fields, "task": task}, engine)
    notes = trained_warnings(model, engine, req)
    if reference is not None and task == "i2v":  # {"image_url": "data:..."}: from here on, as if uploaded
        files = {**files, "input_reference": reference_image(svc.settings, reference)}
    consent = forms.flag(fields, "input_training_consent")
    video_id = jobs.new_id()
    input_key = None
    if task == "i2v":
        if "input_reference" not in files:
            raise ApiError(400, "task i2v needs an input_reference image", "missing_required_parameter", "input_reference")
        image = _read_upload_image(svc, files["input_reference"], "input_reference", owner)
        input_key = f"{video_id}/input.png"
        svc.storage.put_bytes(input_key, _png(image))
    return _create_job(svc, model=model, task=task, prompt=req.prompt,
                       request=stored_request(req), seconds=_seconds_label(req), size=f"{req.width}x{req.height}",
                       owner_id=owner, input_key=input_key, video_id=video_id,
                       input_consent=consent, warnings=notes, **group)


def _shots(fields: dict) -> tuple[list[dict], str]:
    """The storyboard's `shots`: lines of "TIME PROMPT", or a JSON list (a JSON body may send the list
    itself). Without `shots`, `prompt` holds the lines (the web form; a remix's new prompt). Returns
    (shots, the field they came from)."""
    from kinetoscope.tasks.storyboard import parse_shot_lines, parse_timeline

    param = "shots" if fields.get("shots") not in (None, "", []) else "prompt"
    raw = fields.get(param)
    if raw in (None, "", []):
        raise ApiError(400, "a storyboard needs shots: one per line, \"TIME PROMPT\" (e.g. 0s a red circle)",
                       "missing_required_parameter", "shots")
    try:
        if isinstance(raw, str) and raw.lstrip()[:1] in ("[", "{"):
            try:
                raw = json.loads(raw)
            except ValueError as e:
                raise RequestError(f"shots is not valid JSON: {e}") from None
        shots, _ = parse_timeline(parse_shot_lines(raw) if isinstance(raw, str) else raw)
    except RequestError as e:
        raise ApiError(400, f"{param}: {e}", "invalid_value", param) from None
    for i, shot in enumerate(shots):
        if shot.get("image") is not None:
            raise ApiError(400, f"shot {i + 1} has an image: keyframe images are for the command line "
                                "(kinetoscope generate --storyboard FILE)", "invalid_value", param)
        shot.pop("image")
    return shots, param


def _storyboard_job(svc, owner, model, engine, fields: dict, files: dict[str, bytes], remixed_from: str | None = None,
                    **group):
    from kinetoscope.tasks.storyboard import TRANSITION, plan

    if files:
        raise ApiError(400, f"a storyboard takes no upload ({', '.join(files)})", "invalid_value", next(iter(files)))
    shots, param = _shots(fields)
    for shot in shots:
        moderate(svc, owner, shot["prompt"], param)
    transition = forms.text(fields, "transition", TRANSITION)
    seconds = forms.number(fields, "seconds", float)
    own = {k: v for k, v in fields.items() if k not in ("shots", "transition", "seconds", "task", "prompt")}
    req = _generation_request(svc, {**own, "prompt": shots[0]["prompt"]}, engine)  # size, seed, steps, ...
    kw = {k: getattr(req, k) for k in STORYBOARD_SETTINGS}
    try:
        _, _, _, seconds, _ = plan(engine.pipeline, shots, seconds, transition, **kw)
    except RequestError as e:
        where = "transition" if str(e).startswith("transition") else "seconds" if "length" in str(e) else param
        raise ApiError(400, str(e), "invalid_value", where) from None
    frames = round(seconds * req.fps)
    if frames > engine.capabilities.max_frames:
        raise ApiError(400, f"seconds {seconds:g} is out of range: a storyboard may be at most "
                            f"{engine.capabilities.max_frames / req.fps:g} s ({engine.capabilities.max_frames} frames)",
                       "invalid_value", "seconds")
    return _create_job(svc, model=model, task="storyboard", prompt=" → ".join(s["prompt"] for s in shots),
                       request=stored_request(req, shots=shots, transition=transition, storyboard_seconds=seconds),
                       seconds=f"{seconds:g}", size=f"{req.width}x{req.height}", owner_id=owner,
                       video_id=jobs.new_id(), remixed_from=remixed_from, **group)


async def _submit(request: Request, service) -> JSONResponse:
    """Read the body (JSON or multipart), run a job-creating service function, answer the video."""
    svc = svc_of(request)
    fields, files = await forms.read_body(request, svc.settings.max_upload_bytes)
    row = await run_in_threadpool(service, svc, owner_of(request), fields, files)
    return _video_response(svc, row)


@router.post("/videos", openapi_extra=CREATE_BODY, summary="Create a video (or n variations of it)")
async def create_video(request: Request):
    from kinetoscope.studio.api import variations

    svc = svc_of(request)
    fields, files = await forms.read_body(request, svc.settings.max_upload_bytes)
    rows = await run_in_threadpool(variations.create, svc, owner_of(request), fields, files, create_from_fields)
    headers = {"openai-poll-after-ms": str(svc.settings.poll_after_ms)}
    return JSONResponse(variations.response_of(rows), headers=headers)


@router.get("/videos", summary="List videos")
def list_videos(request: Request, after: str | None = Query(None, max_length=100),
                limit: int = Query(20, ge=1, le=100), order: str = Query("desc", pattern="^(asc|desc)$")):
    svc = svc_of(request)
    try:
        rows, more = jobs.page(svc.sessions, after=after, limit=limit, order=order, owner_id=owner_of(request))
    except KeyError:
        raise not_found("video", after) from None
    data = estimates.video_objects(svc.sessions, svc.settings, rows)
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": more}


def _owned(request: Request, video_id: str):
    row = jobs.get(svc_of(request).sessions, video_id, owner_of(request))
    if row is None:
        raise not_found("video", video_id)
    return row


@router.get("/videos/{video_id}", summary="Retrieve a video")
def retrieve_video(request: Request, video_id: str):
    return _video_response(svc_of(request), _owned(request, video_id))


@router.delete("/videos/{video_id}", summary="Delete a video and its files")
def delete_video(request: Request, video_id: str):
    svc = svc_of(request)
    _owned(request, video_id)
    if jobs.remove(svc.sessions, video_id):
        svc.storage.delete_prefix(video_id)
        audit.log(svc.sessions, owner_of(request), "video.delete", video_id, request.client.host if request.client else None)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get("/videos/{video_id}/content", summary="Download the video, its thumbnail or its spritesheet",
            responses={200: {"content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}}}})
def download_content(request: Request, video_id: str, variant: str = Query("video", pattern="^(video|thumbnail|spritesheet)$")):
    svc = svc_of(request)
    row = _owned(request, video_id)
    if row.status != "completed":
        raise ApiError(409, f"video {video_id} is {row.status}: content is available once it is completed",
                       "video_not_ready", "id")
    key = json.loads(row.files or "{}").get(variant)
    path = svc.storage.path(key) if key else None
    if path is None or not path.is_file():
        raise ApiError(404, f"video {video_id} has no {variant} file", "not_found", "variant")
    fname, ctype = VARIANTS[variant]
    return FileResponse(path, media_type=ctype, filename=f"{video_id}-{fname}")


def _source_request(svc, row) -> GenerationRequest:
    return request_of(json.loads(row.request))


def remix_from_fields(svc, owner, source, fields: dict):
    if source.status != "completed":
        raise ApiError(409, f"video {source.id} is {source.status}: only completed videos can be remixed",
                       "video_not_ready", "id")
    model, engine = _engine(svc, forms.text(fields, "model", source.model))
    task = job_task(source.task, source.input_key)  # a remix keeps its source's task
    if task not in engine.capabilities.tasks:
        raise ApiError(400, f"model {model!r} cannot do task {task!r}: it supports "
                            f"{', '.join(engine.capabilities.tasks)}", "unsupported_task", "model")
    if task == "storyboard":  # new shots (`shots`, or the prompt's lines) on the source's settings
        old = json.loads(source.request)
        kept = {"transition": old["transition"], "size": f"{old['width']}x{old['height']}",
                **{k: old[k] for k in STORYBOARD_SETTINGS if k not in ("width", "height") and old.get(k) is not None}}
        return _storyboard_job(svc, owner, model, engine, {**kept, **fields, "task": "storyboard"}, {},
                               remixed_from=source.id)
    old = json.loads(source.request)
    req = _generation_request(svc, fields, engine, base=request_of(old))
    notes = trained_warnings(model, engine, req)
    video_id = jobs.new_id()
    input_key = None
    if source.input_key:  # its input (an image, an uploaded video) goes with it
        input_key = f"{video_id}/{source.input_key.rpartition('/')[2]}"
        svc.storage.put_file(input_key, svc.storage.path(source.input_key))
    request = stored_request(req, **{k: old[k] for k in TASK_OPTIONS if k in old})  # extend's seconds, edit's strength
    if task == "edit":
        request["frames"] = old["frames"]  # the input's
    return _create_job(svc, model=model, task=task,
                       prompt=req.prompt, request=request,
                       seconds=source.seconds if task in ("extend", "edit") else _seconds_label(req),
                       size=f"{req.width}x{req.height}", owner_id=owner, input_key=input_key, video_id=video_id,
                       remixed_from=source.id, source_video_id=source.source_video_id,
                       input_consent=source.input_consent, warnings=notes)


@router.post("/videos/{video_id}/remix", summary="Remix a completed video with a changed prompt or settings")
async def remix_video(request: Request, video_id: str):
    svc = svc_of(request)
    source = _owned(request, video_id)
    fields, _ = await forms.read_body(request, svc.settings.max_upload_bytes)
    if not forms.text(fields, "prompt") and not (source.task == "storyboard" and fields.get("shots")):
        raise ApiError(400, "prompt is required" + (" (or shots)" if source.task == "storyboard" else ""),
                       "missing_required_parameter", "prompt")
    row = await run_in_threadpool(remix_from_fields, svc, owner_of(request), source, fields)
    return _video_response(svc, row)


def _video_source(svc, owner, fields: dict, files: dict[str, bytes], video_id: str, task: str):
    """The input video of an extend or edit: `video` = {"id": ...} of a completed video of
    this account, or an uploaded file (stored under the new job). Returns
    (model, engine, base request, frame count, source id, input key)."""
    from kinetoscope.media import MediaError, read_video

    ref = fields.get("video")
    if isinstance(ref, dict) and ref.get("id"):
        source = jobs.get(svc.sessions, str(ref["id"]), owner)
        if source is None:
            raise not_found("video", str(ref["id"]))
        if source.status != "completed":
            raise ApiError(409, f"video {source.id} is {source.status}: only completed videos can be used",
                           "video_not_ready", "video")
        model, engine = _engine(svc, forms.text(fields, "model", source.model))
        base = _source_request(svc, source)
        return model, engine, base, base.frames, source.id, None
    if "video" not in files:
        raise ApiError(400, "video must be {\"id\": ...} of a completed video, or an uploaded video file",
                       "missing_required_parameter", "video")
    model, engine = _engine(svc, forms.text(fields, "model"))
    if task not in engine.capabilities.tasks:
        raise ApiError(400, f"model {model!r} cannot {task} videos", "unsupported_task", "model")
    input_key = f"{video_id}/input.mp4"
    svc.storage.put_bytes(input_key, files["video"])
    try:
        frames, _ = read_video(svc.storage.path(input_key), max_frames=engine.capabilities.max_frames,
                               max_pixels=svc.settings.max_upload_pixels)
    except MediaError as e:
        svc.storage.delete_prefix(video_id)
        raise ApiError(400, f"video is not a readable video: {e.problem}", "invalid_video", "video") from None
    try:
        moderate(svc, owner, "", "video", frames=frames)
    except ApiError:
        svc.storage.delete_prefix(video_id)
        raise
    base = GenerationRequest(prompt="", width=frames.shape[2], height=frames.shape[1], frames=len(frames))
    return model, engine, base, len(frames), None, input_key


def _task_request(svc, fields: dict, engine, base: GenerationRequest, prompt: str) -> GenerationRequest:
    """Settings for an extend/edit window: the source's size, the caller's other fields."""
    own = {k: v for k, v in fields.items() if k not in ("seconds", "video", "size", "task", "strength", "direction")}
    return _generation_request(svc, {**own, "prompt": prompt}, engine,
                               base=dataclasses.replace(base, prompt=prompt, seconds=None, frames=None))


def extend_from_fields(svc, owner, fields: dict, files: dict[str, bytes]):
    prompt = forms.text(fields, "prompt", required=True)
    seconds = forms.number(fields, "seconds", float)
    if seconds is None:
        raise ApiError(400, "seconds (the length to add) is required", "missing_required_parameter", "seconds")
    direction = forms.text(fields, "direction", "forward")
    if direction not in ("forward", "backward"):
        raise ApiError(400, f"direction {direction!r} is not allowed: use forward or backward", "invalid_value", "direction")
    video_id = jobs.new_id()
    model, engine, base, total_frames, source_id, input_key = _video_source(svc, owner, fields, files, video_id, "extend")
    try:
        if "extend" not in engine.capabilities.tasks:
            raise ApiError(400, f"model {model!r} cannot extend videos", "unsupported_task", "model")
        window = _task_request(svc, fields, engine, base, prompt)
        max_seconds = (engine.capabilities.max_frames - total_frames) / window.fps
        if not (0 < seconds <= max_seconds):
            raise ApiError(400, f"seconds {seconds:g} is out of range: allowed more than 0 up to {max_seconds:g} "
                                f"(the whole video may have at most {engine.capabilities.max_frames} frames)",
                           "invalid_value", "seconds")
    except ApiError:
        svc.storage.delete_prefix(video_id)
        raise
    total = (total_frames + round(seconds * window.fps) - 1) / window.fps
    return _create_job(svc, model=model, task="extend", prompt=prompt,
                       request=stored_request(window, extend_seconds=seconds, direction=direction), seconds=f"{total:g}",
                       size=f"{window.width}x{window.height}", owner_id=owner, input_key=input_key,
                       source_video_id=source_id, video_id=video_id)


def edit_from_fields(svc, owner, fields: dict, files: dict[str, bytes]):
    from kinetoscope import limits
    from kinetoscope.tasks import DEFAULT_STRENGTH

    prompt = forms.text(fields, "prompt", required=True)
    strength = forms.number(fields, "strength", float, DEFAULT_STRENGTH)
    lo, hi = limits.STRENGTH
    if not (lo <= strength <= hi):
        raise ApiError(400, f"strength {strength:g} is out of range: allowed {lo:g} (keep the video) to {hi:g} (ignore it)",
                       "invalid_value", "strength")
    video_id = jobs.new_id()
    model, engine, base, total_frames, source_id, input_key = _video_source(svc, owner, fields, files, video_id, "edit")
    try:
        if "edit" not in engine.capabilities.tasks:
            raise ApiError(400, f"model {model!r} cannot edit videos", "unsupported_task", "model")
        req = _task_request(svc, fields, engine, base, prompt)
    except ApiError:
        svc.storage.delete_prefix(video_id)
        raise
    seconds = (total_frames - 1) / req.fps if total_frames > 1 else 0.0
    return _create_job(svc, model=model, task="edit", prompt=prompt,
                       request={**stored_request(req, strength=strength), "frames": total_frames}, seconds=f"{seconds:g}",
                       size=f"{req.width}x{req.height}", owner_id=owner, input_key=input_key,
                       source_video_id=source_id, video_id=video_id)


@router.post("/videos/extensions", summary="Extend a completed video (or an uploaded one) by some seconds")
async def extend_video(request: Request):
    return await _submit(request, extend_from_fields)


@router.post("/videos/edits", summary="Redraw a completed video (or an uploaded one) under a new prompt")
async def edit_video(request: Request):
    return await _submit(request, edit_from_fields)


def _event_stream_slot(request: Request, limit: int):
    """Count this caller's open event streams (per account, or per address on an open studio);
    429 beyond `limit`. Returns the function that gives the slot back (safe to call twice)."""
    streams = getattr(request.app.state, "event_streams", None)
    if streams is None:
        streams = request.app.state.event_streams = {}
    who = owner_of(request) or (request.client.host if request.client else "unknown")
    if limit and streams.get(who, 0) >= limit:
        raise ApiError(429, f"{limit} event streams are already open for you: close one first "
                            "(KINETOSCOPE_MAX_EVENT_STREAMS)", "too_many_streams", headers={"Retry-After": "5"})
    streams[who] = streams.get(who, 0) + 1
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            streams[who] -= 1
            if streams[who] <= 0:
                del streams[who]

    return release


@router.get("/videos/{video_id}/events", summary="Progress as Server-Sent Events until the video is done",
            responses={200: {"content": {"text/event-stream": {}}}})
async def video_events(request: Request, video_id: str):
    svc = svc_of(request)
    owner = owner_of(request)
    await run_in_threadpool(_owned, request, video_id)
    release = _event_stream_slot(request, svc.settings.max_event_streams)

    async def stream():
        try:
            async for event in _events(request, svc, video_id, owner):
                yield event
        finally:
            release()

    body = stream()
    weakref.finalize(body, release)  # a stream that never started still gives its slot back
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(request: Request, svc, video_id: str, owner):
    """The job's state changes (and queue moves) as SSE events, and its live previews as
    `video.preview` events (studio/previews.py), until it is done, deleted or the client leaves."""
    last, idle, shown = None, 0.0, previews.Follower(svc.storage, video_id)
    while True:
        row = await run_in_threadpool(jobs.get, svc.sessions, video_id, owner)
        if row is None:
            yield f"event: deleted\ndata: {json.dumps({'id': video_id, 'deleted': True})}\n\n"
            return
        obj = await run_in_threadpool(estimates.video_object, svc.sessions, svc.settings, row)
        state = (obj["status"], obj["progress"], obj["queue_position"])
        if state != last:
            last, idle = state, 0.0
            yield f"event: video.{obj['status']}\ndata: {json.dumps(obj)}\n\n"
        if obj["status"] == "in_progress" and (preview := await run_in_threadpool(shown.new)) is not None:
            idle = 0.0
            yield f"event: video.preview\ndata: {json.dumps(preview)}\n\n"
        if obj["status"] in jobs.TERMINAL:
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.5)
        idle += 0.5
        if idle >= 15:
            idle = 0.0
            yield ": keep-alive\n\n"
