"""Per-account quotas, checked atomically when a job is created: concurrent jobs, videos and
seconds of video per day, stored bytes (each video's files and the upload it was made from, and
each character's upload). The check runs inside the transaction that inserts the
job and first bumps the user's row, which serialises two concurrent creators for one account on
both SQLite (one writer at a time) and PostgreSQL (row lock): they cannot both take the last unit."""

from __future__ import annotations

import time

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kinetoscope.studio.models import Character, User, VideoRow
from kinetoscope.studio.settings import Settings


class QuotaExceeded(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def limits_for(user: User, settings: Settings) -> dict:
    pick = lambda own, default: default if own is None else own  # noqa: E731
    return {"max_concurrent_jobs": pick(user.max_concurrent_jobs, settings.quota_concurrent_jobs),
            "videos_per_day": pick(user.videos_per_day, settings.quota_videos_per_day),
            "seconds_per_day": pick(user.seconds_per_day, settings.quota_seconds_per_day),
            "storage_bytes": pick(user.storage_bytes, settings.quota_storage_bytes)}


def usage(s: Session, user_id: str) -> dict:
    day_ago = int(time.time()) - 86400
    mine = VideoRow.owner_id == user_id
    today = (VideoRow.created_at >= day_ago, VideoRow.status != "cancelled")  # a cancelled video gives its units back
    return {
        "active_jobs": s.scalar(select(func.count()).where(mine, VideoRow.status.in_(("queued", "in_progress")))),
        "videos_today": s.scalar(select(func.count()).where(mine, *today)),
        "seconds_today": float(s.scalar(select(func.coalesce(func.sum(VideoRow.duration), 0.0))
                                        .where(mine, *today))),
        "storage_bytes": int(s.scalar(select(func.coalesce(func.sum(VideoRow.size_bytes), 0)).where(mine)))
        + int(s.scalar(select(func.coalesce(func.sum(Character.size_bytes), 0)).where(Character.owner_id == user_id))),
    }


def check_storage(s: Session, user_id: str, settings: Settings, upload_bytes: int) -> None:
    """Inside the transaction that stores an upload of its own (a character's): it fits the storage quota."""
    s.execute(update(User).where(User.id == user_id).values(lock_version=User.lock_version + 1))
    lim, used = limits_for(s.get(User, user_id), settings)["storage_bytes"], usage(s, user_id)["storage_bytes"]
    if used + upload_bytes > lim:
        raise QuotaExceeded(f"this upload ({upload_bytes} bytes) would bring your videos and uploads to "
                            f"{used + upload_bytes} bytes: the limit is {lim}; delete some to make more", "storage_exceeded")


def guard(user_id: str, seconds: float, settings: Settings, upload_bytes: int = 0, count: int = 1):
    """A check to run inside the job-creating transaction; `upload_bytes`: what the request stores now.
    `count`: how many jobs of `seconds` each the request makes in all (variations): all must fit."""

    def check(s: Session) -> None:
        s.execute(update(User).where(User.id == user_id).values(lock_version=User.lock_version + 1))
        user = s.get(User, user_id)
        lim, use = limits_for(user, settings), usage(s, user_id)
        if use["active_jobs"] + count > lim["max_concurrent_jobs"]:
            raise QuotaExceeded(f"you have {use['active_jobs']} videos queued or running: the limit is "
                                f"{lim['max_concurrent_jobs']} at a time; wait for one to finish", "concurrent_jobs_exceeded")
        if use["videos_today"] + count > lim["videos_per_day"]:
            raise QuotaExceeded(f"you made {use['videos_today']} videos in the last 24 hours: the limit is "
                                f"{lim['videos_per_day']}", "daily_videos_exceeded")
        if use["seconds_today"] + seconds * count > lim["seconds_per_day"] + 1e-9:
            what = f"this video ({seconds:g} s)" if count == 1 else f"these {count} videos ({seconds:g} s each)"
            raise QuotaExceeded(f"{what} would bring the last 24 hours to "
                                f"{use['seconds_today'] + seconds * count:g} s of video: the limit is {lim['seconds_per_day']:g} s",
                                "daily_seconds_exceeded")
        if use["storage_bytes"] >= lim["storage_bytes"]:
            raise QuotaExceeded(f"your videos take {use['storage_bytes']} bytes: the limit is {lim['storage_bytes']}; "
                                "delete some to make more", "storage_exceeded")
        if use["storage_bytes"] + upload_bytes > lim["storage_bytes"]:
            raise QuotaExceeded(f"this upload ({upload_bytes} bytes) would bring your videos and uploads to "
                                f"{use['storage_bytes'] + upload_bytes} bytes: the limit is {lim['storage_bytes']}; "
                                "delete some to make more", "storage_exceeded")

    return check
