"""Request bodies into their Pydantic schemas (api/schemas.py): one body read as JSON or as
multipart/form-data (what the openai client sends with a file), validated into the schema of its
content type. A value the schema refuses is a 400 naming the field, the value and what is allowed.

`Parsed` is both the route's dependency and its `openapi_extra`: the request body it documents
refers to the schemas' generated JSON Schema, which `components` adds to the OpenAPI document."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError

DOCUMENTED: dict[str, type[BaseModel]] = {}  # the schemas request bodies refer to, by name
SMALL = 64 * 1024  # the bodies of routes that take no upload


class Parsed:
    """A route's body: `json` for application/json, `form` (default: `json`) for multipart/form-data
    and url-encoded forms. `max_bytes` None: the studio's upload limit."""

    def __init__(self, json: type[BaseModel] | None, form: type[BaseModel] | None = None, max_bytes: int | None = None):
        self.json, self.form, self.max_bytes = json, form or json, max_bytes
        for model in (json, form):
            if model is not None:
                DOCUMENTED[model.__name__] = model

    @property
    def openapi(self) -> dict:
        content = {}
        if self.json is not None:
            content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{self.json.__name__}"}}
        content["multipart/form-data"] = {"schema": {"$ref": f"#/components/schemas/{self.form.__name__}"}}
        return {"requestBody": {"required": True, "content": content}}

    async def __call__(self, request: Request) -> BaseModel:
        limit = self.max_bytes or request.app.state.svc.settings.max_upload_bytes
        fields, files = await forms.read_body(request, limit)
        ctype = request.headers.get("content-type", "")
        is_form = ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded"))
        return parse(self.form if is_form or self.json is None else self.json, {**fields, **files}, set(files))


def parse(model: type[BaseModel], data: dict, uploads: set[str] = frozenset()) -> BaseModel:
    """`data` as `model`, or the ApiError (400) for its first refused field."""
    try:
        body = model.model_validate(data)
    except ValidationError as e:
        raise refusal(model, e.errors()[0]) from None
    if hasattr(body, "_uploads"):
        body._uploads = set(uploads)
    return body


def refusal(model: type[BaseModel], error: dict) -> ApiError:
    """The 400 for one Pydantic error: the field, its value and what is allowed, in the words the
    studio's own checks use."""
    loc = [str(x) for x in error.get("loc", ()) if not isinstance(x, int)]
    name = loc[0] if loc else None
    path = ".".join(x for x in loc if x[:1].islower() and x not in ("str", "bytes", "list[dict[str,any]]")) or "body"
    kind, value, ctx = error.get("type", ""), error.get("input"), error.get("ctx") or {}
    info = model.model_fields.get(name) if name else None
    if kind == "missing":
        return ApiError(400, f"{path} is required", "missing_required_parameter", name)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") and info is not None:
        bounds = {type(m).__name__: m for m in info.metadata}
        lo = getattr(bounds.get("Ge"), "ge", None)
        hi = getattr(bounds.get("Le"), "le", None)
        allowed = f"{lo} to {hi}" if lo is not None and hi is not None else f"{lo} or more" if lo is not None else f"up to {hi}"
        return ApiError(400, f"{path} {value} is out of range: allowed {allowed}", "invalid_value", name)
    if kind == "literal_error":
        return ApiError(400, f"{path} {value!r} is not allowed: use {ctx.get('expected')}", "invalid_value", name)
    wanted = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string"}
    for prefix, what in wanted.items():
        if kind.startswith(prefix + "_"):
            return ApiError(400, f"{path} must be {what}, got {value!r}", "invalid_type", name)
    described = (info.description or "") if info is not None else ""
    if described.startswith("must be"):
        return ApiError(400, f"{name} {described}", "invalid_type", name)
    return ApiError(400, f"{path}: {error.get('msg', 'invalid value')}", "invalid_value", name)


def components() -> dict:
    """The JSON Schema of every documented request body (and the schemas they use), by name."""
    if not DOCUMENTED:
        return {}
    _, top = models_json_schema([(m, "validation") for m in DOCUMENTED.values()],
                                ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})
