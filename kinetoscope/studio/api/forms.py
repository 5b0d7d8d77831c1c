"""Request bodies: the same fields from JSON or multipart/form-data (what the openai client
sends), with strings converted and uploads read under the size limit."""

from __future__ import annotations

import json
import re

from fastapi import Request
from starlette.datastructures import UploadFile

from kinetoscope.studio.api.errors import ApiError

_NESTED = re.compile(r"^([A-Za-z_]+)\[([A-Za-z_]+)\]$")  # video[id] -> {"video": {"id": ...}}
IMAGE_TYPES = "PNG, JPEG or WebP"  # what an image upload may be, as the pages and errors say it


class Upload(bytes):
    """An uploaded file's bytes, with the name and content type its sender gave (for messages)."""

    filename: str | None = None
    content_type: str | None = None


def describe_upload(data: bytes) -> str:
    """What was received, for a message: '"notes.txt" (text/plain, 23 bytes)'."""
    name = getattr(data, "filename", None)
    ctype = getattr(data, "content_type", None)
    shown = json.dumps(name[:100] + ("..." if len(name) > 100 else "")) if name else "a file"
    return f"{shown} ({ctype + ', ' if ctype else ''}{len(data)} bytes)"


async def read_body(request: Request, max_bytes: int) -> tuple[dict, dict[str, bytes]]:
    """(fields, files) from a JSON or multipart body. Files are read fully, at most max_bytes each."""
    ctype = request.headers.get("content-type", "")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise ApiError(413, f"request body is {int(declared)} bytes: uploads are limited to {max_bytes} bytes",
                       "file_too_large")
    _limit_body(request, max_bytes + 64 * 1024)  # a chunked body has no Content-Length to check up front
    if ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_part_size=max_bytes + 1)
        except ApiError:
            raise
        except Exception as e:  # noqa: BLE001 - malformed multipart
            raise ApiError(400, f"could not read the form body: {e}", "invalid_body") from None
        fields: dict = {}
        files: dict[str, bytes] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise ApiError(413, f"{key} is larger than {max_bytes} bytes", "file_too_large", key)
                if data:
                    files[key] = Upload(data)
                    files[key].filename, files[key].content_type = value.filename, value.content_type
                continue
            m = _NESTED.match(key)
            if m:
                fields.setdefault(m.group(1), {})
                if isinstance(fields[m.group(1)], dict):
                    fields[m.group(1)][m.group(2)] = value
            else:
                fields[key] = value
        return fields, files
    raw = await request.body()
    if len(raw) > max_bytes + 64 * 1024:
        raise ApiError(413, f"request body is {len(raw)} bytes: limit {max_bytes}", "file_too_large")
    if not raw.strip():
        return {}, {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"the body is not valid JSON: {e}", "invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_json")
    return data, {}


def _limit_body(request: Request, limit: int) -> None:
    """Reading more than `limit` body bytes of this request answers 413, before the rest is read.
    The request itself is wrapped (not a copy), so a form it parses stays cached for later reads."""
    receive, received = request._receive, 0

    async def limited():
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise ApiError(413, f"request body is over {limit} bytes: uploads are limited to {limit - 64 * 1024} bytes",
                           "file_too_large")
        return message

    request._receive = limited


def text(fields: dict, name: str, default: str | None = None, required: bool = False) -> str | None:
    v = fields.get(name)
    if v is None or v == "":
        if required:
            raise ApiError(400, f"{name} is required", "missing_required_parameter", name)
        return default
    if not isinstance(v, (str, int, float)):
        raise ApiError(400, f"{name} must be a string", "invalid_type", name)
    if isinstance(v, str) and "\x00" in v:
        raise ApiError(400, f"{name} contains a NUL character, which is not allowed", "invalid_value", name)
    return str(v)


def number(fields: dict, name: str, kind=float, default=None):
    v = fields.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise ApiError(400, f"{name} must be a number, got {v!r}", "invalid_type", name)
    try:
        out = kind(v)
        if kind is int and isinstance(v, float) and v != int(v):
            raise ValueError
        return out
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be {'an integer' if kind is int else 'a number'}, got {v!r}",
                       "invalid_type", name) from None


def flag(fields: dict, name: str, default: bool = False) -> bool:
    v = fields.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ApiError(400, f"{name} must be true or false, got {v!r}", "invalid_type", name)


def parse_size(value: str | None) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", value)
    if not m:
        raise ApiError(400, f"size {value!r} is not WIDTHxHEIGHT, e.g. 64x64 or 96x64", "invalid_value", "size")
    return int(m.group(1)), int(m.group(2))
