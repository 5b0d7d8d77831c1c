"""Pydantic bodies of the /v1 routes that declare them: FastAPI checks requests against them and the
OpenAPI document (/openapi.json, /docs) is generated from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from kinetoscope import catalog, limits


# --- characters (POST/GET/DELETE /v1/videos/characters) -------------------------------------------
class CharacterUse(BaseModel):
    """One video made with a character (shown to its owner)."""

    video_id: str | None = Field(description="the video made with it")
    by: str = Field(description="the account that made it")
    model: str | None = Field(None, description="the model asked for")
    at: int = Field(description="Unix time (seconds) the video was asked for")


class Character(BaseModel):
    """A subject taken from an uploaded clip or image, used in prompts as @name. `id`, `name` and
    `created_at` are OpenAI's character object; the rest is ours, and the sharing, consent, size and uses
    are shown to the owner only."""

    id: str
    object: Literal["character"] = "character"
    name: str = Field(description="written in prompts as @name")
    created_at: int = Field(description="Unix time (seconds)")
    owner: str | None = Field(None, description="the owner's username (none on an open studio)")
    owned: bool = Field(description="whether the caller owns it")
    kind: Literal["image", "video"] = Field(description="what was uploaded")
    sharing: Literal["private", "accounts", "studio"] | None = Field(
        None, description="who may use it: the owner only, the accounts in shared_with, or every account here")
    shared_with: list[str] | None = Field(None, description="usernames, where sharing is accounts")
    input_training_consent: bool | None = Field(None, description="whether the upload may be used for training")
    size_bytes: int | None = Field(None, description="stored bytes (counted in the owner's storage quota)")
    use_count: int | None = Field(None, description="videos made with it")
    uses: list[CharacterUse] | None = Field(None, description="where it was used, newest first (at most 100)")


class CharacterList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Character] = Field(description="the caller's characters and those shared with them, newest first")


class CharacterDeleted(BaseModel):
    id: str
    object: Literal["character.deleted"] = "character.deleted"
    deleted: bool


class CharacterSharing(BaseModel):
    """Who may use a character from the next request on; `private` revokes everyone else."""

    sharing: Literal["private", "accounts", "studio"] = Field(
        description="private: only me; accounts: the accounts named in `accounts`; studio: every account here")
    accounts: list[str] = Field(default_factory=list, max_length=100,
                                description="usernames to share with (sharing accounts only)")


# --- jobs: cancel, queue position, time estimate, previews (studio/api/jobs_api.py) -------------------
class VideoError(BaseModel):
    code: str
    message: str


class VideoObject(BaseModel):
    """The video object: OpenAI's fields (its client parses them; `cancelled` is ours, beyond its status
    list), then ours."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["video"]
    model: str
    status: Literal["queued", "in_progress", "completed", "failed", "cancelled"]
    progress: int = Field(description="0 to 100")
    created_at: int
    completed_at: int | None = Field(None, description="when it completed, failed or was cancelled")
    expires_at: int | None = None
    prompt: str | None = None
    seconds: str
    size: str
    remixed_from_video_id: str | None = None
    error: VideoError | None = None
    queue_position: int | None = Field(None, description="while queued: 1 = the next a worker takes; else null")
    eta_seconds: float | None = Field(None, description="while queued or running: estimated seconds until it is done "
                                      "(the engine's measured seconds per step x steps x frames x area); else null")
    task: str | None = Field(None, description="what was made: " + ", ".join(catalog.TASKS))
    engine: str | None = Field(None, description="the engine that makes it (where `model` is an alias)")
    source_video_id: str | None = Field(None, description="the input video of an extend or edit")
    attempts: int | None = Field(None, description="workers that took it")
    input_training_consent: bool | None = Field(None, description="whether its upload may be used for training")
    seed: int | None = Field(None, description="the seed it was made with: the same seed makes the same video")
    warnings: list[str] | None = Field(None, description="what it may not do as asked (e.g. words the model never saw)")
    group_id: str | None = Field(None, description="variations made together (create with n > 1) share it")
    request: dict[str, Any] | None = Field(None, description="the resolved request it is made from (its recipe)")
    variations: list[str] | None = Field(None, description="create with n > 1: every variation's id, in seed order")


class VideoPreview(BaseModel):
    """A `video.preview` event's data (GET /v1/videos/{id}/events) and GET /v1/videos/{id}/preview's
    metadata: the current clean estimate of a video still being made, a few frames side by side."""

    id: str
    object: Literal["video.preview"] = "video.preview"
    step: int = Field(description="the denoising step it was taken after")
    steps: int = Field(description="the denoising run's steps")
    frames: int = Field(description="frames side by side: first, middle, last")
    width: int = Field(description="one frame's width in the video (the image is smaller)")
    height: int
    created_at: float
    image: str = Field(description="data:image/webp;base64,...")


# --- remix a video file (POST /v1/videos/remixes) ---------------------------------------------------
class RemixUpload(BaseModel):
    """A video file made by kinetoscope (the command line, or another studio), remixed here: its recipe
    (read from the file's metadata) again, as a video of the recipe's own task, with these changes."""

    video: bytes = Field(json_schema_extra={"format": "binary"},
                         description="the video file; its metadata holds the recipe it was made by")
    prompt: str | None = Field(None, description="a new prompt (a storyboard: new shots, one \"TIME PROMPT\" per line)")
    shots: str | None = Field(None, description="storyboard: new shots, as for POST /v1/videos")
    model: str | None = Field(None, description="an engine name from GET /v1/models (default: the recipe's, "
                              "where this studio has it, else the default model)")
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seconds: str | None = None
    size: str | None = None
    negative_prompt: str | None = None


# --- errors (every /v1 route) -----------------------------------------------------------------------
class ErrorDetail(BaseModel):
    message: str = Field(description="what is wrong, naming the value and what is allowed")
    type: str = Field(description="invalid_request_error, authentication_error, permission_error, rate_limit_error "
                      "or server_error")
    param: str | None = Field(description="the request field it is about, where there is one")
    code: str | None = Field(description="e.g. invalid_value, missing_required_parameter, not_found")


class Error(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


# --- videos (POST/GET/DELETE /v1/videos...) -----------------------------------------------------------
FILE = {"schema": {"type": "string", "format": "binary"}}  # a file answer's content, e.g. {"video/mp4": FILE}


class ImageReference(BaseModel):
    """OpenAI's image reference: the first frame as a data URL (an http(s) URL where the operator allows them)."""

    image_url: str | None = Field(None, description="data:image/png;base64,... (or http(s)://...)")
    file_id: str | None = Field(None, description="not supported: this studio has no files API")


class VideoReference(BaseModel):
    id: str = Field(description="a completed video of yours")


class Body(BaseModel):
    """A request body: JSON, or the same fields as multipart/form-data (what the openai client sends with a
    file). Numbers may come as strings (form fields are)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    _uploads: set[str] | None = PrivateAttr(None)  # the fields that came as uploaded files (api/bodies.py sets it)

    def parts(self) -> tuple[dict, dict[str, bytes]]:
        """(fields, uploaded files) as the studio's functions take them: only what the caller sent."""
        sent = {k: getattr(self, k) for k in self.model_fields_set}
        uploads = self._uploads if self._uploads is not None else {k for k, v in sent.items() if isinstance(v, bytes)}
        files = {k: v for k, v in sent.items() if k in uploads}
        return {k: (v.model_dump(exclude_unset=True) if isinstance(v, BaseModel) else v)
                for k, v in sent.items() if k not in files}, files

SEED = Field(None, ge=limits.SEED[0], le=limits.SEED[1], description="same seed, same video; without one, a new "
             "random seed, returned as the video's `seed`")


class VideoSettings(Body):
    """What every way of making a video may set."""

    model: str | None = Field(None, description="an engine name (or alias) from GET /v1/models")
    seconds: str | None = Field(None, description='length in seconds, e.g. "2"')
    size: str | None = Field(None, description="WIDTHxHEIGHT, e.g. 64x64")
    negative_prompt: str | None = None
    seed: int | None = SEED
    steps: int | None = Field(None, ge=limits.STEPS[0], le=limits.STEPS[1])
    guidance: float | None = Field(None, ge=limits.GUIDANCE[0], le=limits.GUIDANCE[1])
    guidance_floor: float | None = Field(None, ge=limits.GUIDANCE_FLOOR[0], le=limits.GUIDANCE_FLOOR[1],
                                         description="no guidance below this noise level (default: the model's)")
    fps: int | None = Field(None, ge=limits.FPS[0], le=limits.FPS[1])
    sampler: str | None = Field(None, description="the model's sampler (e.g. euler)")


class VideoCreateParams(VideoSettings):
    """POST /v1/videos as JSON: OpenAI's create (prompt, model, seconds, size, input_reference) and ours."""

    prompt: str | None = Field(None, description="what the video shows (required, except for a storyboard: shots)")
    task: Literal[catalog.studio_tasks()] | None = Field(None, description="default t2v, or i2v with an input_reference")
    shots: str | list[dict[str, Any]] | None = Field(None, description='storyboard: one shot per line, "TIME PROMPT" '
                                                    "(0s a red circle), or a list of {at, prompt, transition}")
    transition: Literal[tuple(catalog.TRANSITIONS)] | None = Field(None, description="storyboard: how each shot is reached")
    input_reference: ImageReference | None = Field(None, description='must be an uploaded image file (multipart/form-data), '
                                                   'or {"image_url": "data:image/png;base64,..."}: the first frame')
    input_training_consent: bool | None = Field(None, description="allow the upload to be used for training (default false)")
    n: int | None = Field(None, ge=1, le=4, description="variations: n videos with seeds seed, seed+1, ... sharing a "
                          "group_id (the response lists them as `variations`)")


class VideoCreateForm(VideoCreateParams):
    """POST /v1/videos as multipart/form-data: input_reference is an image file (or input_reference[image_url])."""

    input_reference: bytes | ImageReference | None = Field(
        None, description="must be an uploaded image file (multipart/form-data), "
        'or {"image_url": "data:image/png;base64,..."}: the first frame (a PNG, JPEG or WebP image)')
    shots: str | None = Field(None, description='storyboard: one shot per line, "TIME PROMPT", or a JSON list')


class VideoRemixParams(VideoSettings):
    """POST /v1/videos/{id}/remix: the source's recipe again, its own task, with these changes."""

    prompt: str | None = Field(None, description="the new prompt (required; a storyboard: or shots)")
    shots: str | list[dict[str, Any]] | None = Field(None, description="storyboard: new shots, as for POST /v1/videos")
    transition: Literal[tuple(catalog.TRANSITIONS)] | None = None


class VideoSourceParams(VideoSettings):
    """POST /v1/videos/extensions and /edits as JSON: the input is a completed video of yours."""

    prompt: str = Field(description="what the new frames show")
    video: VideoReference = Field(description="must be {\"id\": ...} of a completed video, or an uploaded video file")
    direction: Literal[catalog.DIRECTIONS] | None = Field(None, description="extensions: forward (default) or backward")
    strength: float | None = Field(None, description=f"edits: {limits.STRENGTH[0]:g} keeps the video, "
                                   f"{limits.STRENGTH[1]:g} ignores it")


class VideoSourceForm(VideoSourceParams):
    """POST /v1/videos/extensions and /edits as multipart/form-data: an uploaded video file (or video[id])."""

    video: bytes | VideoReference = Field(description="must be {\"id\": ...} of "
                                          "a completed video, or an uploaded video file")


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject] = Field(description="newest first (order=desc) or oldest first")
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class CharacterUpload(Body):
    """POST /v1/videos/characters (multipart/form-data, as the openai client's create_character sends)."""

    name: str = Field(description="1 to 32 letters, digits, '_' or '-', starting with a letter; written in prompts as "
                      "@name (one character per name on this studio)")
    video: bytes = Field(description="a short clip or a PNG, JPEG or WebP image "
                         "showing the subject; the frame that shows the most becomes its reference")
    input_training_consent: bool | None = Field(None, description="allow the upload to be used for training (default false)")


class VerifyUpload(Body):
    file: bytes = Field(description="a video or image to check")


# --- models (GET /v1/models) --------------------------------------------------------------------------
class ModelTrained(BaseModel):
    sizes: list[str] = Field(description="WxH sizes it was trained on (empty: not recorded)")
    seconds: float | None = Field(description="the longest clip it saw in training")
    tasks: list[str]
    beyond: str = Field(description="what a request beyond them gets: warn (made, with a warning) or refuse (a 400)")


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    default: bool = Field(description="whether a request naming no model gets it")
    alias_of: str | None = Field(None, description="the engine an operator's alias names")
    capabilities: dict[str, Any] | None = Field(None, description="what the engine can make (tasks, sizes, frames, ...)")
    trained: ModelTrained | None = None
    error: str | None = Field(None, description="why it cannot be used now")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]

