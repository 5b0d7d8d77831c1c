"""The queue that carries job ids to workers: huey, over a SQLite file (embedded) or Redis.

The database row is the truth about a job; the queue only says "look at job X". huey drops a
task once a worker takes it, so a job whose worker died is found again by the reaper
(`jobs.reap`) from its expired lease and pushed once more. Pushing an id twice is harmless:
only one worker can claim a job.
"""

from __future__ import annotations

import time
from pathlib import Path

from huey import RedisHuey, SqliteHuey

from kinetoscope.studio.settings import Settings

QUEUE_NAME = "kinetoscope-videos"


class JobQueue:
    def __init__(self, settings: Settings):
        if settings.redis_url:
            self.huey = RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False, blocking=True, read_timeout=1)
            self.blocking = True
        else:
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(QUEUE_NAME, filename=str(Path(settings.data_dir) / "queue.db"), results=False)
            self.blocking = False
        self._task = self.huey.task(name="generate_video")(_run_in_worker)

    def push(self, video_id: str) -> None:
        self.huey.enqueue(self._task.s(video_id))

    def pop(self, timeout: float = 1.0) -> str | None:
        """The next job id, or None after about `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.huey.dequeue()
            if task is not None:
                return task.args[0]
            if self.blocking or time.monotonic() >= deadline:
                return None
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def pending(self) -> int:
        return self.huey.pending_count()

    def flush(self) -> None:
        self.huey.flush()


def _run_in_worker(video_id: str) -> None:  # pragma: no cover - workers pop ids, they never call this
    raise RuntimeError("video jobs are run by `kinetoscope worker`, not by huey's consumer")
