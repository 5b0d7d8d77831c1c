"""/v1/models: the engines this studio can run, with what each supports."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio.api.errors import RESPONSES, not_found
from kinetoscope.studio.api.schemas import Model, ModelList

router = APIRouter(prefix="/v1", tags=["models"], responses=RESPONSES)


def _model(svc, name: str) -> dict:
    """One model: an engine, or an operator's alias for one (`alias_of` names it), with what it can
    make (`capabilities`) and what it was trained for (`trained`: sizes, longest clip, and whether
    requests beyond them are made with a warning or refused)."""
    out = {"id": name, "object": "model", "created": 0, "owned_by": "kinetoscope",
           "default": name == svc.settings.default_model}
    if name in svc.engines.aliases:
        out["alias_of"] = svc.engines.aliases[name]
    try:
        caps = svc.engines.get(name).capabilities
        out["capabilities"] = dataclasses.asdict(caps)
        out["trained"] = {"sizes": list(caps.sizes_trained), "seconds": caps.seconds_trained,
                          "tasks": list(caps.tasks), "beyond": caps.beyond}
    except Exception as e:  # noqa: BLE001 - list it, say why it is not usable
        out["error"] = f"{type(e).__name__}: {e}"
    return out


@router.get("/models", summary="List the models (engines and their aliases) this studio serves", response_model=ModelList,
            response_model_exclude_unset=True)
async def list_models(request: Request):
    svc = request.app.state.svc
    names = [*svc.engines.names(), *svc.engines.aliases]
    data = [await run_in_threadpool(_model, svc, n) for n in names]
    return {"object": "list", "data": data}


@router.get("/models/{model_id}", summary="Retrieve one model (an engine or an alias)", response_model=Model,
            response_model_exclude_unset=True)
async def get_model(request: Request, model_id: str):
    svc = request.app.state.svc
    if svc.engines.engine_of(model_id) is None:
        raise not_found("model", model_id)
    return await run_in_threadpool(_model, svc, model_id)
