"""The job page's Cancel button (POST /videos/{id}/cancel): a plain form post over the API's own
cancel (studio/api/jobs_api.py) that answers 303 back to the job page, which then says "Cancelled";
a video that ended first re-renders the page with the reason."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import auth, jobs
from kinetoscope.studio.api import videos
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.jobs_api import cancel_video
from kinetoscope.studio.auth import client_ip
from kinetoscope.studio.web.routes import _not_found, _page, _video_context

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])


@router.post("/videos/{video_id}/cancel", response_class=HTMLResponse)
async def cancel_submit(request: Request, video_id: str):
    svc = videos.svc_of(request)
    owner = videos.owner_of(request)
    try:
        await run_in_threadpool(cancel_video, svc, owner, video_id, client_ip(request))
    except ApiError as e:
        row = await run_in_threadpool(jobs.get, svc.sessions, video_id, owner)
        if row is None:
            return _not_found(request, f"video {video_id}")
        return _page(request, "video.html", _video_context(svc, row, {"": e.message}), e.status)
    return RedirectResponse(f"/videos/{video_id}", status_code=303)
