"""/v1/models: the engines this studio can run, with what each supports."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio.api.errors import not_found

router = APIRouter(prefix="/v1", tags=["models"])


def _model(svc, name: str) -> dict:
    out = {"id": name, "object": "model", "created": 0, "owned_by": "kinetoscope",
           "default": name == svc.settings.default_model}
    try:
        out["capabilities"] = dataclasses.asdict(svc.engines.get(name).capabilities)
    except Exception as e:  # noqa: BLE001 - list it, say why it is not usable
        out["error"] = f"{type(e).__name__}: {e}"
    return out


@router.get("/models", summary="List the models (engines) this studio serves")
async def list_models(request: Request):
    svc = request.app.state.svc
    data = [await run_in_threadpool(_model, svc, n) for n in svc.engines.names()]
    return {"object": "list", "data": data}


@router.get("/models/{model_id}", summary="Retrieve one model")
async def get_model(request: Request, model_id: str):
    svc = request.app.state.svc
    if model_id not in svc.engines.specs:
        raise not_found("model", model_id)
    return await run_in_threadpool(_model, svc, model_id)
