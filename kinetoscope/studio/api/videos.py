"""/v1/videos: the OpenAI Videos API (create, list, retrieve, delete, content, remix, edits,
extensions). Each route reads its body into its schema (api/schemas.py), calls the studio's
function for it (api/create.py, api/derived.py) and answers the schema."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import audit, estimates, jobs
from kinetoscope.studio.api import forms, variations
from kinetoscope.studio.api.bodies import Parsed
from kinetoscope.studio.api.create import CREATE_TASKS, create_from_fields  # noqa: F401 - the web page's
from kinetoscope.studio.api.derived import edit_from_fields, extend_from_fields, remix_from_fields
from kinetoscope.studio.api.errors import RESPONSES, ApiError, not_found
from kinetoscope.studio.api.making import moderate, owned, owner_of, svc_of, word_warnings  # noqa: F401 - as above
from kinetoscope.studio.api.schemas import (FILE, VideoCreateForm, VideoCreateParams, VideoDeleted, VideoList,
                                            VideoObject, VideoRemixParams, VideoSourceForm, VideoSourceParams)
from kinetoscope.studio.worker import VARIANTS

router = APIRouter(prefix="/v1", tags=["videos"], responses=RESPONSES)
CREATE = Parsed(VideoCreateParams, VideoCreateForm)
REMIX = Parsed(VideoRemixParams)
FROM_VIDEO = Parsed(VideoSourceParams, VideoSourceForm)
VIDEO = {"response_model": VideoObject, "response_model_exclude_unset": True}  # the keys each video has, no more
_owned = owned  # the name api/jobs_api.py imports


def video_response(svc, row, response: Response) -> dict:
    """The video object; while it is being made, OpenAI's header saying when to poll again."""
    if row.status not in jobs.TERMINAL:
        response.headers["openai-poll-after-ms"] = str(svc.settings.poll_after_ms)
    return estimates.video_object(svc.sessions, svc.settings, row)


@router.post("/videos", openapi_extra=CREATE.openapi, summary="Create a video (or n variations of it)", **VIDEO)
async def create_video(request: Request, response: Response, body: VideoCreateParams = Depends(CREATE)):
    svc = svc_of(request)
    fields, files = body.parts()
    rows = await run_in_threadpool(variations.create, svc, owner_of(request), fields, files, create_from_fields)
    response.headers["openai-poll-after-ms"] = str(svc.settings.poll_after_ms)
    return variations.response_of(rows)


@router.get("/videos", summary="List videos", response_model=VideoList, response_model_exclude_unset=True)
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


@router.get("/videos/{video_id}", summary="Retrieve a video", **VIDEO)
def retrieve_video(request: Request, response: Response, video_id: str):
    return video_response(svc_of(request), owned(request, video_id), response)


@router.delete("/videos/{video_id}", summary="Delete a video and its files", response_model=VideoDeleted)
def delete_video(request: Request, video_id: str):
    svc = svc_of(request)
    owned(request, video_id)
    if jobs.remove(svc.sessions, video_id):
        svc.storage.delete_prefix(video_id)
        audit.log(svc.sessions, owner_of(request), "video.delete", video_id, request.client.host if request.client else None)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get("/videos/{video_id}/content", summary="Download the video, its thumbnail or its spritesheet",
            responses={200: {"content": {"video/mp4": FILE, "image/webp": FILE, "image/jpeg": FILE}}})
def download_content(request: Request, video_id: str, variant: str = Query("video", pattern="^(video|thumbnail|spritesheet)$")):
    svc = svc_of(request)
    row = owned(request, video_id)
    if row.status != "completed":
        raise ApiError(409, f"video {video_id} is {row.status}: content is available once it is completed",
                       "video_not_ready", "id")
    key = json.loads(row.files or "{}").get(variant)
    path = svc.storage.path(key) if key else None
    if path is None or not path.is_file():
        raise ApiError(404, f"video {video_id} has no {variant} file", "not_found", "variant")
    fname, ctype = VARIANTS[variant]
    return FileResponse(path, media_type=ctype, filename=f"{video_id}-{fname}")


@router.post("/videos/{video_id}/remix", openapi_extra=REMIX.openapi,
             summary="Remix a completed video with a changed prompt or settings", **VIDEO)
async def remix_video(request: Request, response: Response, video_id: str, body: VideoRemixParams = Depends(REMIX)):
    svc = svc_of(request)
    source = owned(request, video_id)
    fields, _ = body.parts()
    if not forms.text(fields, "prompt") and not (source.task == "storyboard" and fields.get("shots")):
        raise ApiError(400, "prompt is required" + (" (or shots)" if source.task == "storyboard" else ""),
                       "missing_required_parameter", "prompt")
    row = await run_in_threadpool(remix_from_fields, svc, owner_of(request), source, fields)
    return video_response(svc, row, response)


async def submit(request: Request, response: Response, service, fields: dict, files: dict[str, bytes]) -> dict:
    """Run a job-creating studio function on a parsed body's fields and files; answer the video."""
    svc = svc_of(request)
    row = await run_in_threadpool(service, svc, owner_of(request), fields, files)
    return video_response(svc, row, response)


@router.post("/videos/extensions", openapi_extra=FROM_VIDEO.openapi,
             summary="Extend a completed video (or an uploaded one) by some seconds", **VIDEO)
async def extend_video(request: Request, response: Response, body: VideoSourceParams = Depends(FROM_VIDEO)):
    return await submit(request, response, extend_from_fields, *body.parts())


@router.post("/videos/edits", openapi_extra=FROM_VIDEO.openapi,
             summary="Redraw a completed video (or an uploaded one) under a new prompt", **VIDEO)
async def edit_video(request: Request, response: Response, body: VideoSourceParams = Depends(FROM_VIDEO)):
    return await submit(request, response, edit_from_fields, *body.parts())
