"""POST /v1/videos's work: one job from the create fields, of any task the route makes (a storyboard
from its shots); the web page's create form calls the same."""

from __future__ import annotations

import json

from kinetoscope import catalog
from kinetoscope.pipeline import RequestError
from kinetoscope.studio import jobs
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.making import (create_job, engine_for, generation_request, moderate, png, read_upload_image,
                                           request_error, seconds_label)
from kinetoscope.studio.api.references import reference_image
from kinetoscope.studio.api.trained import trained_warnings
from kinetoscope.studio.recipes import STORYBOARD_SETTINGS, stored_request

CREATE_TASKS = catalog.studio_tasks()  # what POST /v1/videos makes


def create_from_fields(svc, owner, fields: dict, files: dict[str, bytes], **group):
    """One job from the create fields; `group` (group_id, room) when it is one of several variations."""
    model, engine = engine_for(svc, forms.text(fields, "model"))
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
        return storyboard_job(svc, owner, model, engine, fields, files, **group)
    req = generation_request(svc, {**fields, "task": task}, engine)
    notes = trained_warnings(model, engine, req)
    if reference is not None and task == "i2v":  # {"image_url": "data:..."}: from here on, as if uploaded
        files = {**files, "input_reference": reference_image(svc.settings, reference)}
    consent = forms.flag(fields, "input_training_consent")
    video_id = jobs.new_id()
    input_key = None
    if task == "i2v":
        if "input_reference" not in files:
            raise ApiError(400, "task i2v needs an input_reference image", "missing_required_parameter", "input_reference")
        image = read_upload_image(svc, files["input_reference"], "input_reference", owner)
        input_key = f"{video_id}/input.png"
        svc.storage.put_bytes(input_key, png(image))
    return create_job(svc, model=model, task=task, prompt=req.prompt,
                      request=stored_request(req), seconds=seconds_label(req), size=f"{req.width}x{req.height}",
                      owner_id=owner, input_key=input_key, video_id=video_id,
                      input_consent=consent, warnings=notes, **group)


def shots_of(fields: dict) -> tuple[list[dict], str]:
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


def storyboard_job(svc, owner, model, engine, fields: dict, files: dict[str, bytes], remixed_from: str | None = None,
                    **group):
    from kinetoscope.tasks.storyboard import TRANSITION, plan

    if files:
        raise ApiError(400, f"a storyboard takes no upload ({', '.join(files)})", "invalid_value", next(iter(files)))
    shots, param = shots_of(fields)
    for shot in shots:
        moderate(svc, owner, shot["prompt"], param)
    transition = forms.text(fields, "transition", TRANSITION)
    seconds = forms.number(fields, "seconds", float)
    own = {k: v for k, v in fields.items() if k not in ("shots", "transition", "seconds", "task", "prompt")}
    req = generation_request(svc, {**own, "prompt": shots[0]["prompt"]}, engine)  # size, seed, steps, ...
    kw = {k: getattr(req, k) for k in STORYBOARD_SETTINGS}
    try:
        _, _, _, seconds, _ = plan(engine.pipeline, shots, seconds, transition, **kw)
    except RequestError as e:
        raise request_error(e, param) from None
    frames = round(seconds * req.fps)
    if frames > engine.capabilities.max_frames:
        raise ApiError(400, f"seconds {seconds:g} is out of range: a storyboard may be at most "
                            f"{engine.capabilities.max_frames / req.fps:g} s ({engine.capabilities.max_frames} frames)",
                       "invalid_value", "seconds")
    return create_job(svc, model=model, task="storyboard", prompt=" → ".join(s["prompt"] for s in shots),
                      request=stored_request(req, shots=shots, transition=transition, storyboard_seconds=seconds),
                      seconds=f"{seconds:g}", size=f"{req.width}x{req.height}", owner_id=owner,
                      video_id=jobs.new_id(), remixed_from=remixed_from, **group)
