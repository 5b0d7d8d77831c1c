"""POST /v1/videos/remixes: remix a video file made by kinetoscope anywhere (the command line, another
studio). Its recipe, read from the file's metadata, runs again with the changes given, as a video of the
recipe's own task: the same remix as POST /v1/videos/{id}/remix and `kinetoscope generate --task remix`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

from fastapi import APIRouter, Depends, Request, Response

from kinetoscope.studio.api import forms, videos
from kinetoscope.studio.api.bodies import Parsed
from kinetoscope.studio.api.derived import remix_from_fields
from kinetoscope.studio.api.errors import RESPONSES, ApiError
from kinetoscope.studio.api.schemas import RemixUpload
from kinetoscope.studio.recipes import stored_of_recipe

router = APIRouter(prefix="/v1", tags=["videos"], responses=RESPONSES)
BODY = Parsed(None, RemixUpload)


def recipe_of_file(data: bytes) -> dict:
    """The recipe in an uploaded video's metadata, or a 400 naming `video`."""
    from kinetoscope.media import MediaError, read_metadata
    from kinetoscope.pipeline import RequestError
    from kinetoscope.tasks import recipe_of

    with tempfile.TemporaryDirectory(prefix="kinetoscope-remix-") as tmp:
        path = Path(tmp) / "upload.mp4"
        path.write_bytes(data)
        try:
            meta = read_metadata(path)
            if not meta:
                raise RequestError("it holds no kinetoscope recipe: only videos made by kinetoscope can be remixed")
            return recipe_of(meta)
        except (MediaError, RequestError, OSError) as e:
            raise ApiError(400, f"video: {e}", "invalid_video", "video") from None


def remix_upload(svc, owner, fields: dict, files: dict[str, bytes]):
    if "video" not in files:
        raise ApiError(400, "video is required: a video file made by kinetoscope", "missing_required_parameter", "video")
    recipe = recipe_of_file(files["video"])
    task = recipe["task"]
    if recipe.get("inputs"):
        names = ", ".join(recipe["inputs"])
        raise ApiError(400, f"the recipe's {task} needs its input ({names}), which a video file does not hold: remix it "
                            "with `kinetoscope generate --task remix --video FILE` where the input is",
                       "invalid_value", "video")
    stored = stored_of_recipe(recipe)
    model = recipe.get("model") if svc.engines.engine_of(recipe.get("model") or "") else None
    source = SimpleNamespace(id=None, status="completed", model=model, task=task, request=json.dumps(stored),
                             input_key=None, source_video_id=None, input_consent=False, seconds=None)
    if task == "storyboard" and not (fields.get("shots") or forms.text(fields, "prompt")):
        fields = {**fields, "shots": stored["shots"]}  # the same shots, with the other changes
    return remix_from_fields(svc, owner, source, {k: v for k, v in fields.items() if k != "video"})


@router.post("/videos/remixes", openapi_extra=BODY.openapi,
             summary="Remix a video file made by kinetoscope (its recipe again, its own task, with changes)", **videos.VIDEO)
async def remix_file(request: Request, response: Response, body: RemixUpload = Depends(BODY)):
    fields = body.model_dump(exclude_unset=True)
    return await videos.submit(request, response, remix_upload, fields, {"video": fields.pop("video")})
