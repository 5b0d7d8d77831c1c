"""/v1/videos/characters: OpenAI's character routes (`client.videos.create_character`: POST, multipart
`name` + `video`; `client.videos.get_character`: GET /{id}) plus ours: list, delete, sharing and the
reference frame. The rules are in kinetoscope/studio/characters.py; `cast`/`audited` there are what
a video's creation calls (api/videos.py `_create_job`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from kinetoscope.studio import characters
from kinetoscope.studio.api import forms, schemas
from kinetoscope.studio.api.bodies import Parsed
from kinetoscope.studio.api.errors import RESPONSES, ApiError, body
from kinetoscope.studio.auth import client_ip
from kinetoscope.studio.characters import CharacterError
from kinetoscope.studio.quotas import QuotaExceeded

router = APIRouter(prefix="/v1/videos/characters", tags=["characters"], responses=RESPONSES)

CREATE = Parsed(None, schemas.CharacterUpload)


def _svc(request: Request):
    return request.app.state.svc


def _owner(request: Request) -> str | None:
    return getattr(request.state, "owner_id", None)


def _not_found(cid: str) -> ApiError:
    return ApiError(404, f"No character found with id {cid!r}.", "not_found", "id")


def to_json(svc, c, viewer: str | None) -> dict:
    """The character as `viewer` sees it: its owner sees who it is shared with, its consent and its uses."""
    owned = c.owner_id == viewer
    names = characters.usernames(svc.sessions, [c.owner_id, *(characters.shared_ids(c) if owned else [])])
    out = {"id": c.id, "object": "character", "name": c.name, "created_at": c.created_at,
           "owner": names.get(c.owner_id), "owned": owned, "kind": c.kind}
    if owned:
        out.update(sharing=c.sharing, shared_with=[names.get(i, i) for i in characters.shared_ids(c)],
                   input_training_consent=c.input_consent, size_bytes=c.size_bytes,
                   use_count=characters.use_count(svc.sessions, c.id), uses=characters.uses(svc.sessions, c.id))
    return out


def _create(svc, owner, fields: dict, files: dict, ip: str | None) -> dict:
    from kinetoscope.studio.api.making import moderate

    name = characters.check_name(forms.text(fields, "name", required=True))
    upload = files.get("video")
    if upload is None:
        raise ApiError(400, "video is required: a short clip or an image of the character", "missing_required_parameter",
                       "video")
    consent = forms.flag(fields, "input_training_consent")
    moderate(svc, owner, name, "name")
    frames, kind, suffix = characters.read_upload(svc.settings, upload, getattr(upload, "filename", None))
    moderate(svc, owner, "", "video", frames=frames, filename=getattr(upload, "filename", None) or "")
    try:
        c = characters.create(svc, owner, name, bytes(upload), frames, kind, suffix, consent=consent, ip=ip)
    except QuotaExceeded as e:
        raise ApiError(429, str(e), e.code, "video", headers={"Retry-After": "60"}) from None
    return to_json(svc, c, owner)


@router.post("", openapi_extra=CREATE.openapi, response_model=schemas.Character,
             summary="Create a character from an uploaded clip or image (used in prompts as @name)")
async def create_character(request: Request, upload: schemas.CharacterUpload = Depends(CREATE)):
    svc = _svc(request)
    fields, files = upload.parts()
    return await run_in_threadpool(_create, svc, _owner(request), fields, files, client_ip(request))


@router.get("", response_model=schemas.CharacterList, summary="List my characters and those shared with me")
def list_characters(request: Request):
    svc, owner = _svc(request), _owner(request)
    return {"object": "list", "data": [to_json(svc, c, owner) for c in characters.listing(svc.sessions, owner)]}


@router.get("/{character_id}", response_model=schemas.Character,
            summary="Retrieve a character (its owner also sees its sharing and where it was used)")
def get_character(request: Request, character_id: str):
    svc, owner = _svc(request), _owner(request)
    c = characters.visible(svc.sessions, character_id, owner)
    if c is None:
        raise _not_found(character_id)
    return to_json(svc, c, owner)


@router.get("/{character_id}/content", summary="The character's reference frame (PNG)",
            responses={200: {"content": {"image/png": schemas.FILE}}})
def character_content(request: Request, character_id: str):
    svc = _svc(request)
    c = characters.visible(svc.sessions, character_id, _owner(request))
    if c is None:
        raise _not_found(character_id)
    path = svc.storage.path(c.reference_key)
    if not path.is_file():
        raise ApiError(404, f"character {character_id} has no reference frame stored", "not_found", "id")
    return FileResponse(path, media_type="image/png", filename=f"{c.name}.png")


@router.post("/{character_id}/sharing", response_model=schemas.Character,
             summary="Share a character (only me / these accounts / everyone here) or revoke it: from the next request on")
def share_character(request: Request, character_id: str, sharing: schemas.CharacterSharing):
    svc, owner = _svc(request), _owner(request)
    c = characters.share(svc, owner, character_id, sharing.sharing, sharing.accounts, ip=client_ip(request))
    return to_json(svc, c, owner)


@router.delete("/{character_id}", response_model=schemas.CharacterDeleted,
               summary="Delete a character and its files (videos made with it keep theirs)")
def delete_character(request: Request, character_id: str):
    svc = _svc(request)
    if not characters.delete(svc, _owner(request), character_id, ip=client_ip(request)):
        raise _not_found(character_id)
    return {"id": character_id, "object": "character.deleted", "deleted": True}


def install(app) -> None:
    """The routes (before /v1/videos/{id}, which would take "characters" for a video id) and the answer
    to a CharacterError raised anywhere a request goes, e.g. a video's creation naming a character."""

    @app.exception_handler(CharacterError)
    async def _character_error(_req: Request, e: CharacterError):
        return JSONResponse(body(e.status, str(e), e.code, e.param), status_code=e.status)

    app.include_router(router)
