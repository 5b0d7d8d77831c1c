"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the right status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from kinetoscope.studio.api.schemas import Error
from kinetoscope.studio.storage import StorageError

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
         409: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
         422: "invalid_request_error", 429: "rate_limit_error", 503: "server_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"No {what} found with id {ident!r}.", "not_found", "id")


def body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                      "param": param, "code": code}}


def _unavailable(what: str) -> JSONResponse:
    return JSONResponse(body(503, f"The {what} is not reachable right now; try again shortly.", "service_unavailable"),
                        status_code=503, headers={"Retry-After": "5"})


def _allowed_methods(request: Request) -> str | None:
    """Every method the API documents for this path (a path served by several routes lists them all)."""
    methods = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods)) or None


DOCUMENTED = {400: "A bad value (named, with its allowed range)", 401: "Not logged in, or an unknown API key",
              403: "Not allowed (scope, CSRF, another site's form)", 404: "No such resource (or not yours)",
              405: "Method not allowed", 409: "Not in a state that allows this", 413: "Body or upload too large",
              429: "Rate limit or quota exceeded", 503: "Database, queue or storage not reachable right now"}
# what every /v1 router documents beside its answers (validation errors are 400 here, not FastAPI's 422)
RESPONSES = {status: {"model": Error, "description": what} for status, what in DOCUMENTED.items()}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, e: ApiError):
        return JSONResponse(body(e.status, e.message, e.code, e.param), status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, e: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code)
        headers = dict(getattr(e, "headers", None) or {})
        if e.status_code == 405 and _allowed_methods(req):
            headers["Allow"] = _allowed_methods(req)
        return JSONResponse(body(e.status_code, str(e.detail), code), status_code=e.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path")]
        msg = f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid value')}"
        return JSONResponse(body(400, msg, "invalid_value", ".".join(loc) or None), status_code=400)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _db_down(_req: Request, e: Exception):
        return _unavailable("database")

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _queue_down(_req: Request, e: Exception):
        return _unavailable("job queue")

    @app.exception_handler(StorageError)
    async def _storage_down(_req: Request, e: StorageError):
        return JSONResponse(body(503, f"Storage could not take the file right now ({e.strerror or e}); try again later.",
                                 "storage_error"), status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(DataError)
    async def _bad_data(_req: Request, e: DataError):  # a value the database refuses (e.g. out of its range)
        return JSONResponse(body(400, "a value in the request is out of the range the database accepts", "invalid_value"),
                            status_code=400)

