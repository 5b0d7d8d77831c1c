"""/verify: anyone uploads a video or image and sees where it came from (C2PA + watermark)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import auth
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.verify import SUFFIXES, verify_bytes
from kinetoscope.studio.web.routes import _page

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])


@router.get("/verify")
def verify_form(request: Request):
    return _page(request, "verify.html", {"nav": "verify", "accept": ",".join(SUFFIXES)})


@router.post("/verify")
async def verify_upload(request: Request):
    svc = request.app.state.svc
    ctx = {"nav": "verify", "accept": ",".join(SUFFIXES)}
    try:
        _, files = await forms.read_body(request, svc.settings.max_upload_bytes)
        if "file" not in files:
            raise ApiError(400, "choose a file to check", "missing_required_parameter", "file")
        form = await request.form()
        name = getattr(form.get("file"), "filename", None) or "upload"
        report = await run_in_threadpool(verify_bytes, svc, files["file"], name)
    except ApiError as e:
        return _page(request, "verify.html", {**ctx, "error": e.message}, status=e.status)
    return _page(request, "verify.html", {**ctx, "report": report})
