"""Videos made from a video: a remix (its recipe again, its own task, with changes), an extension and
an edit (of a completed video of the caller's, or an uploaded file). The web page calls the same."""

from __future__ import annotations

import dataclasses
import json

from kinetoscope.pipeline import GenerationRequest
from kinetoscope.studio import jobs
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.create import storyboard_job
from kinetoscope.studio.api.errors import ApiError, not_found
from kinetoscope.studio.api.making import create_job, engine_for, generation_request, moderate, seconds_label
from kinetoscope.studio.api.trained import trained_warnings
from kinetoscope.studio.recipes import STORYBOARD_SETTINGS, TASK_OPTIONS, job_task, request_of, stored_request


def source_request(svc, row) -> GenerationRequest:
    return request_of(json.loads(row.request))


def remix_from_fields(svc, owner, source, fields: dict):
    if source.status != "completed":
        raise ApiError(409, f"video {source.id} is {source.status}: only completed videos can be remixed",
                       "video_not_ready", "id")
    model, engine = engine_for(svc, forms.text(fields, "model", source.model))
    task = job_task(source.task, source.input_key)  # a remix keeps its source's task
    if task not in engine.capabilities.tasks:
        raise ApiError(400, f"model {model!r} cannot do task {task!r}: it supports "
                            f"{', '.join(engine.capabilities.tasks)}", "unsupported_task", "model")
    if task == "storyboard":  # new shots (`shots`, or the prompt's lines) on the source's settings
        old = json.loads(source.request)
        kept = {"transition": old["transition"], "size": f"{old['width']}x{old['height']}",
                **{k: old[k] for k in STORYBOARD_SETTINGS if k not in ("width", "height") and old.get(k) is not None}}
        return storyboard_job(svc, owner, model, engine, {**kept, **fields, "task": "storyboard"}, {},
                              remixed_from=source.id)
    old = json.loads(source.request)
    req = generation_request(svc, fields, engine, base=request_of(old))
    notes = trained_warnings(model, engine, req)
    video_id = jobs.new_id()
    input_key = None
    if source.input_key:  # its input (an image, an uploaded video) goes with it
        input_key = f"{video_id}/{source.input_key.rpartition('/')[2]}"
        svc.storage.put_file(input_key, svc.storage.path(source.input_key))
    request = stored_request(req, **{k: old[k] for k in TASK_OPTIONS if k in old})  # extend's seconds, edit's strength
    if task == "edit":
        request["frames"] = old["frames"]  # the input's
    return create_job(svc, model=model, task=task,
                      prompt=req.prompt, request=request,
                      seconds=source.seconds if task in ("extend", "edit") else seconds_label(req),
                      size=f"{req.width}x{req.height}", owner_id=owner, input_key=input_key, video_id=video_id,
                      remixed_from=source.id, source_video_id=source.source_video_id,
                      input_consent=source.input_consent, warnings=notes)

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
        model, engine = engine_for(svc, forms.text(fields, "model", source.model))
        base = source_request(svc, source)
        return model, engine, base, base.frames, source.id, None
    if "video" not in files:
        raise ApiError(400, "video must be {\"id\": ...} of a completed video, or an uploaded video file",
                       "missing_required_parameter", "video")
    model, engine = engine_for(svc, forms.text(fields, "model"))
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
    return generation_request(svc, {**own, "prompt": prompt}, engine,
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
    return create_job(svc, model=model, task="extend", prompt=prompt,
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
    return create_job(svc, model=model, task="edit", prompt=prompt,
                      request={**stored_request(req, strength=strength), "frames": total_frames}, seconds=f"{seconds:g}",
                      size=f"{req.width}x{req.height}", owner_id=owner, input_key=input_key,
                      source_video_id=source_id, video_id=video_id)
