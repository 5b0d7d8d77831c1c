"""A job while it is made: cancel it (POST /v1/videos/{id}/cancel) and look at its latest live preview
(GET /v1/videos/{id}/preview). Previews also arrive as `video.preview` events on
GET /v1/videos/{id}/events, and every video object carries `queue_position` and `eta_seconds`
(studio/estimates.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import audit, estimates, jobs, previews
from kinetoscope.studio.api.errors import RESPONSES, ApiError, not_found
from kinetoscope.studio.api.making import owned, owner_of, svc_of
from kinetoscope.studio.api.schemas import FILE, VideoObject

router = APIRouter(prefix="/v1", tags=["videos"], responses=RESPONSES)


def cancel_video(svc, owner: str | None, video_id: str, ip: str | None = None):
    """Cancel a queued or running video of `owner` (None: any, on an open studio). Cancelling a
    cancelled video again is a no-op; a completed or failed one is a 409. Returns the row."""
    row = jobs.get(svc.sessions, video_id, owner)
    if row is None:
        raise not_found("video", video_id)
    if jobs.cancel(svc.sessions, video_id, svc.settings):
        svc.storage.delete_prefix(video_id)  # its upload and preview; a running job's worker removes what it writes next
        audit.log(svc.sessions, owner, "video.cancel", video_id, ip, was=row.status)
    row = jobs.get(svc.sessions, video_id, owner)
    if row is None:
        raise not_found("video", video_id)
    if row.status != "cancelled":
        raise ApiError(409, f"video {video_id} is {row.status}: only queued or in-progress videos can be cancelled",
                       "video_not_cancellable", "id")
    return row


@router.post("/videos/{video_id}/cancel", summary="Cancel a queued or running video",
             response_model=VideoObject, response_model_exclude_unset=True,
             responses={200: {"description": "the video, status cancelled"},
                        409: {"description": "the video had already completed or failed"}})
def cancel(request: Request, video_id: str):
    svc = svc_of(request)
    row = cancel_video(svc, owner_of(request), video_id, request.client.host if request.client else None)
    return estimates.video_object(svc.sessions, svc.settings, row)


@router.get("/videos/{video_id}/preview", summary="The latest live preview of a video being made",
            responses={200: {"content": {"image/webp": FILE}, "description": "the first, middle and last frames of the "
                             "current clean estimate, side by side; headers say the step"},
                       404: {"description": "no preview yet (or the video is done: download its content)"}})
async def preview(request: Request, video_id: str):
    svc = svc_of(request)
    await run_in_threadpool(owned, request, video_id)
    latest = await run_in_threadpool(previews.latest, svc.storage, video_id)
    if latest is None:
        raise ApiError(404, f"video {video_id} has no preview now: previews exist while it is being made",
                       "not_found", "id")
    return Response(previews.image_of(latest), media_type="image/webp", headers={
        "Cache-Control": "no-store", "X-Preview-Step": str(latest["step"]), "X-Preview-Steps": str(latest["steps"])})
