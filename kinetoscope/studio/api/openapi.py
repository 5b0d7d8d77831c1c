"""The OpenAPI document (/openapi.json, /docs): FastAPI's, generated from the routes and their Pydantic
schemas (api/schemas.py). Two things are added to what FastAPI builds: the request bodies that a route
reads as JSON or multipart (api/bodies.py) name their schemas, whose JSON Schema goes into the
components here; no /v1 route documents FastAPI's 422, as a refused value is a 400 (api/errors.py); and a route
that answers a file documents only the file's types."""

from __future__ import annotations

from fastapi import FastAPI

from kinetoscope.studio.api import bodies


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        known = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, body in bodies.components().items():
            known.setdefault(name, body)
        for path, ops in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for op in ops.values():
                    op.get("responses", {}).pop("422", None)
                    content = op.get("responses", {}).get("200", {}).get("content", {})
                    if len(content) > 1 and not content.get("application/json", {}).get("schema"):
                        content.pop("application/json", None)  # a file route: FastAPI's default JSON entry, empty
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
