"""Pydantic bodies of the /v1 routes that declare them: FastAPI checks requests against them and the
OpenAPI document (/openapi.json, /docs) is generated from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
    list), then some of ours. Other routes add more of ours (task, seed, request, ...)."""

    id: str
    object: Literal["video"] = "video"
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
