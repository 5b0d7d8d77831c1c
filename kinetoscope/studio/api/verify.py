"""POST /v1/verify: anyone may upload a file and read its provenance (C2PA manifest and
invisible watermark), checked against this installation's signing CA."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio.api import forms
from kinetoscope.studio.api.bodies import Parsed
from kinetoscope.studio.api.errors import RESPONSES, ApiError
from kinetoscope.studio.api.schemas import VerifyUpload

router = APIRouter(prefix="/v1", tags=["provenance"], responses=RESPONSES)
UPLOAD = Parsed(None, VerifyUpload)
SUFFIXES = (".mp4", ".png", ".gif", ".webm", ".mov", ".jpg", ".jpeg", ".webp")

def verify_bytes(svc, data: bytes, filename: str) -> dict:
    from kinetoscope.media import MediaError
    from kinetoscope.media.provenance import verify_file

    suffix = Path(filename or "upload").suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(400, f"file {filename!r} has type {suffix or 'none'}: upload one of {' '.join(SUFFIXES)}",
                       "invalid_file", "file")
    fd, tmp = tempfile.mkstemp(prefix="kinetoscope-verify-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        report = verify_file(tmp, data_dir=svc.settings.data_dir)
    except MediaError as e:
        raise ApiError(400, f"file could not be read: {e.problem}", "invalid_file", "file") from None
    finally:
        os.unlink(tmp)
    report["file"] = filename
    return report


async def verify_request(request: Request, missing: str) -> dict:
    """The report for the file uploaded as the multipart field `file` (the API and the page)."""
    svc = request.app.state.svc
    _, files = await forms.read_body(request, svc.settings.max_upload_bytes)
    if "file" not in files:
        raise ApiError(400, missing, "missing_required_parameter", "file")
    form = await request.form()  # parsed once by read_body; this only reads the upload's name
    name = getattr(form.get("file"), "filename", None) or "upload"
    return await run_in_threadpool(verify_bytes, svc, files["file"], name)


@router.post("/verify", openapi_extra=UPLOAD.openapi, response_model=dict[str, Any],
             summary="Check a file's C2PA manifest and invisible watermark")
async def verify(request: Request, upload: VerifyUpload = Depends(UPLOAD)):
    name = getattr(upload.file, "filename", None) or "upload"
    return await run_in_threadpool(verify_bytes, request.app.state.svc, upload.file, name)
