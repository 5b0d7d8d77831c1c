"""`input_reference` as an object, the JSON form of OpenAI's Videos API: {"image_url": "data:image/png;base64,..."}
(or an http(s) URL, where the operator allows it), turned into the bytes an uploaded image would be, so that
one path checks both. `{"file_id": ...}` is refused: the studio has no files API.

A remote URL (KINETOSCOPE_ALLOW_REMOTE_REFERENCES=1) is fetched only from public addresses, the same check
account webhooks use: the host is resolved once, every address must be public, and the request goes to that
address (so a second lookup cannot point it elsewhere); redirects are checked the same way; the body is
limited to the upload limit and the whole fetch to KINETOSCOPE_REMOTE_REFERENCE_TIMEOUT seconds.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

from kinetoscope.studio import webhooks
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.forms import Upload

PARAM = "input_reference"
MAX_REDIRECTS = 3
_DATA_URL = re.compile(r"data:([^,]*),(.*)\Z", re.S | re.I)


def _bad(message: str, code: str = "invalid_value", status: int = 400) -> ApiError:
    return ApiError(status, f"{PARAM}: {message}", code, PARAM)


def reference_image(settings, value) -> Upload:
    """The image bytes `value` ({"image_url": ...}) refers to, named and typed as an upload would be."""
    if not isinstance(value, dict):
        raise _bad('must be an uploaded image file (multipart/form-data), or {"image_url": "data:image/png;base64,..."}',
                   "invalid_type")
    if value.get("file_id"):
        raise _bad("file ids are not supported: this studio has no files API. Send the image itself, as a multipart "
                   'upload or as {"image_url": "data:image/png;base64,..."}')
    url = value.get("image_url")
    if not isinstance(url, str) or not url.strip():
        raise _bad('needs an image_url: a data URL ("data:image/png;base64,...")'
                   + (" or an http(s) URL" if settings.allow_remote_references else ""), "missing_required_parameter")
    url = url.strip()
    if url[:5].lower() == "data:":
        data = data_url_bytes(url)
    elif urlsplit(url).scheme.lower() in ("http", "https"):
        if not settings.allow_remote_references:
            raise _bad(f"image_url {_shown(url)} is a remote URL, which this studio does not fetch: send a data URL "
                       "(data:image/png;base64,...) or upload the image (the operator may allow remote URLs with "
                       "KINETOSCOPE_ALLOW_REMOTE_REFERENCES=1)")
        data = fetch(url, settings.max_upload_bytes, settings.remote_reference_seconds)
    else:
        raise _bad(f"image_url {_shown(url)} is not a data: URL" + (" or an http(s) URL" if settings.allow_remote_references else ""))
    if len(data) > settings.max_upload_bytes:  # what a multipart upload of it would get
        raise ApiError(413, f"{PARAM} is larger than {settings.max_upload_bytes} bytes", "file_too_large", PARAM)
    return data


def _shown(url: str) -> str:
    return repr(url if len(url) <= 80 else url[:80] + "...")


def data_url_bytes(url: str) -> Upload:
    """The bytes of a data: URL (base64 or percent-encoded), typed by its media type."""
    m = _DATA_URL.match(url)
    if m is None:
        raise _bad(f"image_url {_shown(url)} is not a data URL: expected data:image/png;base64,...")
    meta, payload = m.group(1).strip(), m.group(2)
    if meta.lower().endswith(";base64"):
        try:
            data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        except (binascii.Error, ValueError) as e:
            raise _bad(f"image_url is a data URL whose base64 does not decode ({e})") from None
    else:
        data = unquote_to_bytes(payload)
    out = Upload(data)
    out.content_type = meta.split(";", 1)[0] or None
    return out


def fetch(url: str, max_bytes: int, seconds: float) -> Upload:
    """GET a public http(s) URL: at most `max_bytes` bytes within `seconds`, through at most MAX_REDIRECTS
    redirects, each hop's host checked and pinned to the public address it resolved to."""
    import httpx

    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=seconds, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target, headers, extensions = _pinned(url)
            try:
                with client.stream("GET", target, headers=headers, extensions=extensions) as r:
                    if r.is_redirect and r.headers.get("location"):
                        url = urljoin(url, r.headers["location"])
                        continue
                    if r.status_code != 200:
                        raise _bad(f"image_url {_shown(url)} answered HTTP {r.status_code}")
                    declared = r.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise ApiError(413, f"{PARAM} is larger than {max_bytes} bytes", "file_too_large", PARAM)
                    data = bytearray()
                    for chunk in r.iter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise ApiError(413, f"{PARAM} is larger than {max_bytes} bytes", "file_too_large", PARAM)
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("too slow")
            except httpx.TimeoutException:
                raise _bad(f"image_url {_shown(url)} did not arrive within {seconds:g} s") from None
            except httpx.HTTPError as e:
                raise _bad(f"image_url {_shown(url)} could not be fetched: {type(e).__name__}: {e}") from None
            out = Upload(bytes(data))
            out.filename = urlsplit(url).path.rsplit("/", 1)[-1] or None
            out.content_type = r.headers.get("content-type")
            return out
    raise _bad(f"image_url redirected more than {MAX_REDIRECTS} times")


def _pinned(url: str) -> tuple[str, dict, dict]:
    """(the URL with its host replaced by the public address it resolves to, the Host header, the TLS
    name): a 400 naming input_reference when the URL is not http(s) or any address is not public."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _bad(f"image_url {_shown(url)} is not an http:// or https:// URL with a host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        ips = webhooks.addresses_of(parts.hostname, port)
    except ValueError as e:
        raise _bad(f"image_url {e}") from None
    bad = webhooks.not_public(ips)
    if not ips:
        raise _bad(f"image_url host {parts.hostname!r} does not resolve")
    if bad is not None:
        raise _bad(f"image_url host {parts.hostname!r} is {bad}, a loopback, private or reserved address: "
                   "the studio fetches references from public addresses only")
    ip = ips[0]
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = parts._replace(netloc=netloc, fragment="").geturl()
    return target, {"Host": parts.netloc.rsplit("@", 1)[-1]}, {"sni_hostname": parts.hostname}
