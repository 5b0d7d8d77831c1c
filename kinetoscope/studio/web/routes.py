"""The web pages: create (/), a job (/videos/{id}) and the gallery (/gallery).

Thin handlers over the same service functions as the API (create_from_fields, remix_from_fields,
jobs.*): a plain form POST answers 303 to the job page, and an ApiError re-renders the form with
its message next to the field it names, keeping what the user typed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import auth, jobs
from kinetoscope.studio import gallery as gallery_query
from kinetoscope.studio.api import forms, variations, videos
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.web import choices

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])

CREATE_FIELDS = ("prompt", "negative_prompt", "task", "model", "size", "seconds", "seed", "steps", "guidance",
                 "guidance_floor", "input_reference", "input_training_consent", "n")
FIELD_OF = {"width": "size", "height": "size", "frames": "seconds", "fps": "seconds"}  # error param -> form field
STATUS = {"queued": "Queued", "in_progress": "Making", "completed": "Done", "failed": "Failed",
          "cancelled": "Cancelled"}  # badges
STATUS_LINE = {"queued": "Waiting for a worker…", "in_progress": "Making your video…", "completed": "Finished",
               "failed": "Failed", "cancelled": "Cancelled: nothing was kept"}  # above the progress bar


def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else ""


def _iso(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else ""


templates.env.filters.update(when=_when, iso=_iso)
TASK_NAMES = {**{k: v.split(" (")[0] for k, v in choices.TASKS.items()},
              "remix": "Remix", "extend": "Extension", "edit": "Redraw", "recut": "Recut"}  # the gallery's labels
templates.env.globals.update(STATUS=STATUS, STATUS_LINE=STATUS_LINE, TASK_NAMES=TASK_NAMES)


def _errors(e: ApiError, fields: tuple[str, ...]) -> dict[str, str]:
    """{form field or "": message}: the field the error names, or "" for the page-level banner."""
    param = FIELD_OF.get(e.param, e.param)
    return {param if param in fields else "": e.message}


def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _not_found(request: Request, what: str) -> HTMLResponse:
    return _page(request, "not_found.html", {"what": what}, 404)


# --- create ------------------------------------------------------------------------------------
def _create_context(svc, values: dict) -> dict:
    model = values.get("model") if values.get("model") in svc.engines.specs else svc.settings.default_model
    try:
        caps = svc.engines.get(model).capabilities
    except Exception as e:  # noqa: BLE001 - an engine that cannot load: say so, keep the page usable
        raise ApiError(503, f"model {model!r} could not be loaded: {e}", "model_unavailable", "model") from None
    return {"values": values, "model": model, **choices.form_options(caps, svc.engines.names(), values)}


async def _create_page(request: Request, values: dict, errors: dict | None = None, status: int = 200) -> HTMLResponse:
    svc = videos.svc_of(request)
    try:
        ctx = await run_in_threadpool(_create_context, svc, values)
    except ApiError as e:
        return _page(request, "error.html", {"message": e.message}, e.status)
    return _page(request, "create.html", {**ctx, "errors": errors or {}}, status)


@router.get("/", response_class=HTMLResponse)
async def create_page(request: Request):
    return await _create_page(request, {})


@router.post("/", response_class=HTMLResponse)
async def create_submit(request: Request):
    svc = videos.svc_of(request)
    fields: dict = {}
    try:
        fields, files = await forms.read_body(request, svc.settings.max_upload_bytes)
        rows = await run_in_threadpool(variations.create, svc, videos.owner_of(request), fields, files,
                                       videos.create_from_fields)
    except ApiError as e:
        values = {k: v for k, v in fields.items() if isinstance(v, str)}
        return await _create_page(request, values, _errors(e, CREATE_FIELDS), e.status)
    if len(rows) > 1:  # variations: side by side in the gallery
        return RedirectResponse(f"/gallery?group={rows[0].group_id}", status_code=303)
    return RedirectResponse(f"/videos/{rows[0].id}", status_code=303)


# --- one video ---------------------------------------------------------------------------------
def _video_context(svc, row, errors: dict | None = None, remix_prompt: str | None = None) -> dict:
    from kinetoscope.studio.estimates import video_object

    v = video_object(svc.sessions, svc.settings, row)  # with its queue position and time estimate
    done = v["status"] in jobs.TERMINAL
    return {"v": v, "done": done, "recipe": v["request"], "recipe_json": json.dumps(v["request"], indent=2, sort_keys=True),
            "refresh_seconds": max(1, round(svc.settings.poll_after_ms / 1000)), "variants": list(videos.VARIANTS),
            "errors": errors or {}, "remix_prompt": _remix_prompt(v) if remix_prompt is None else remix_prompt}


def _remix_prompt(v: dict) -> str:
    """What the remix form starts from: the prompt, or a storyboard's shots one per line."""
    if v["task"] == "storyboard":
        return "\n".join(f"{s['at']:g}s {s['prompt']}" for s in v["request"].get("shots", []))
    return v["prompt"]


@router.get("/videos/{video_id}", response_class=HTMLResponse)
async def video_page(request: Request, video_id: str):
    svc = videos.svc_of(request)
    row = await run_in_threadpool(jobs.get, svc.sessions, video_id, videos.owner_of(request))
    if row is None:
        return _not_found(request, f"video {video_id}")
    return _page(request, "video.html", _video_context(svc, row))


@router.post("/videos/{video_id}/remix", response_class=HTMLResponse)
async def remix_submit(request: Request, video_id: str):
    svc = videos.svc_of(request)
    owner = videos.owner_of(request)
    source = await run_in_threadpool(jobs.get, svc.sessions, video_id, owner)
    if source is None:
        return _not_found(request, f"video {video_id}")
    fields: dict = {}
    try:
        fields, _ = await forms.read_body(request, svc.settings.max_upload_bytes)
        forms.text(fields, "prompt", required=True)
        row = await run_in_threadpool(videos.remix_from_fields, svc, owner, source, fields)
    except ApiError as e:
        prompt = fields.get("prompt") if isinstance(fields.get("prompt"), str) else ""
        ctx = _video_context(svc, source, _errors(e, ("prompt",)), remix_prompt=prompt)
        return _page(request, "video.html", ctx, e.status)
    return RedirectResponse(f"/videos/{row.id}", status_code=303)


@router.post("/videos/{video_id}/continue", response_class=HTMLResponse)
async def continue_submit(request: Request, video_id: str):
    """Extend (forward or backward) or redraw (edit) a finished video: the API's service functions."""
    svc = videos.svc_of(request)
    owner = videos.owner_of(request)
    source = await run_in_threadpool(jobs.get, svc.sessions, video_id, owner)
    if source is None:
        return _not_found(request, f"video {video_id}")
    try:
        fields, _ = await forms.read_body(request, svc.settings.max_upload_bytes)
        action = forms.text(fields, "action", "extend")
        task = {k: v for k, v in fields.items() if k in ("prompt", "seconds", "strength")}
        task["video"] = {"id": source.id}
        if action in ("extend", "extend-backward"):
            task["direction"] = "backward" if action == "extend-backward" else "forward"
            task.pop("strength", None)
            row = await run_in_threadpool(videos.extend_from_fields, svc, owner, task, {})
        elif action == "edit":
            task.pop("seconds", None)
            row = await run_in_threadpool(videos.edit_from_fields, svc, owner, task, {})
        else:
            raise ApiError(400, f"action {action!r} is not allowed: extend, extend-backward or edit", "invalid_value", "action")
    except ApiError as e:
        ctx = _video_context(svc, source)
        ctx["task_error"] = e.message
        return _page(request, "video.html", ctx, e.status)
    return RedirectResponse(f"/videos/{row.id}", status_code=303)


@router.post("/videos/{video_id}/delete", response_class=HTMLResponse)
async def delete_submit(request: Request, video_id: str):
    """Without confirm=yes: the confirmation page. With it: delete (the API's own route) and go to the gallery."""
    svc = videos.svc_of(request)
    row = await run_in_threadpool(jobs.get, svc.sessions, video_id, videos.owner_of(request))
    if row is None:
        return _not_found(request, f"video {video_id}")
    fields, _ = await forms.read_body(request, svc.settings.max_upload_bytes)
    if fields.get("confirm") != "yes":
        return _page(request, "delete.html", {"v": jobs.to_api(row)})
    try:
        await run_in_threadpool(videos.delete_video, request, video_id)
    except ApiError:  # deleted meanwhile: the outcome the user asked for
        pass
    return RedirectResponse("/gallery", status_code=303)


# --- gallery -----------------------------------------------------------------------------------
@router.get("/gallery", response_class=HTMLResponse)
async def gallery(request: Request, q: str = "", status: str = "", task: str = "", model: str = "", group: str = "",
                  after: str = ""):
    """Newest first; search by prompt words; filter by status, task, model, or one group of variations."""
    svc = videos.svc_of(request)
    owner = videos.owner_of(request)
    query = gallery_query.Query(q=q.strip(), status=status, task=task, model=model, group=group, after=after)
    if status and status not in gallery_query.STATUSES:
        return _page(request, "error.html", {"message": f"status {status!r} is not a video status: use one of "
                                                        f"{', '.join(gallery_query.STATUSES)}"}, 400)
    try:
        entries, next_after = await run_in_threadpool(gallery_query.search, svc.sessions, owner, query, svc.settings.page_size)
    except KeyError:
        return _not_found(request, f"video {after} (the gallery page starts after it)")
    options = await run_in_threadpool(gallery_query.choices, svc.sessions, owner)
    entries = [{"group_id": e.group_id, "videos": [jobs.to_api(r) for r in e.videos]} for e in entries]
    return _page(request, "gallery.html", {"entries": entries, "query": query, "options": options,
                                           "filtered": bool(query.filters()), "next_after": next_after})
