"""GET /v1/videos/{id}/events: a video's progress as Server-Sent Events until it is done."""

from __future__ import annotations

import asyncio
import json
import weakref

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import estimates, jobs, previews
from kinetoscope.studio.api.errors import RESPONSES, ApiError
from kinetoscope.studio.api.making import owned, owner_of, svc_of

router = APIRouter(prefix="/v1", tags=["videos"], responses=RESPONSES)


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
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def video_events(request: Request, video_id: str):
    svc = svc_of(request)
    owner = owner_of(request)
    await run_in_threadpool(owned, request, video_id)
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
