"""/verify: anyone uploads a video or image and sees where it came from (C2PA + watermark)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from kinetoscope.studio import auth
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.verify import SUFFIXES, verify_request
from kinetoscope.studio.web.routes import _page

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.require_form_csrf)])


@router.get("/verify")
def verify_form(request: Request):
    return _page(request, "verify.html", {"nav": "verify", "accept": ",".join(SUFFIXES)})


@router.post("/verify")
async def verify_upload(request: Request):
    ctx = {"nav": "verify", "accept": ",".join(SUFFIXES)}
    try:
        report = await verify_request(request, "choose a file to check")
    except ApiError as e:
        return _page(request, "verify.html", {**ctx, "error": e.message}, status=e.status)
    return _page(request, "verify.html", {**ctx, "report": report})
