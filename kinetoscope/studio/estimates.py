"""Queue positions and time estimates, for the video object and the job page.

A job's time is its engine's measured speed times its work: seconds per denoising step of one
64x64 frame (`EngineSpeed`, a running average over the engine's finished jobs; before any, the
setting KINETOSCOPE_SECONDS_PER_STEP_FRAME) x steps x frames x (width x height / 64x64). A
measured job counts from its first denoising step to its stored files (plus one step), so a
worker's first job does not charge the model's loading to the engine.

`queue_position` is 1 for the queued job a worker takes next (queued jobs in the order they
were queued). `eta_seconds`, the time until a video is done: for a running job, what its estimate
has left by its progress; for a queued one, the work ahead of it (the running jobs' remainders and
the queued jobs before it) shared among the workers busy now (at least one), plus its own time.
"""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import jobs
from kinetoscope.studio.models import EngineSpeed, VideoRow

log = logging.getLogger("kinetoscope.estimates")
REFERENCE_PIXELS = 64 * 64  # the speed is per step of one frame of this many pixels
NEW_JOB_WEIGHT = 0.3  # a finished job's share in its engine's running average (the first few: a plain mean)


def engine_of(row) -> str:
    """The engine that makes a job (an alias's engine where the model name is an alias)."""
    return json.loads(row.request).get("engine") or row.model


def work_of(request: dict) -> float:
    """Steps x frames x area (in 64x64 frames) of a job's recipe; a storyboard's or an extension's frames
    are the ones it makes."""
    fps = float(request.get("fps") or 8)
    frames = float(request.get("frames") or 1)
    if request.get("storyboard_seconds"):
        frames = float(request["storyboard_seconds"]) * fps + 1
    if request.get("extend_seconds"):
        frames += float(request["extend_seconds"]) * fps
    area = float(request.get("width") or 64) * float(request.get("height") or 64) / REFERENCE_PIXELS
    return float(request.get("steps") or 1) * frames * area


class Stopwatch:
    """Times a job for its engine's speed: fed the job's progress calls, it counts from the first
    denoising step to `seconds()` (called once the files are stored), plus one step's time."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.first: float | None = None
        self.at_first, self.step = 0, 0.0

    def __call__(self, stage: str, i: int, n: int) -> None:
        if stage != "denoise":
            return
        t = self.clock()
        if self.first is None:
            self.first, self.at_first = t, i
        elif i > self.at_first and not self.step:
            self.step = (t - self.first) / (i - self.at_first)

    def seconds(self) -> float | None:
        return None if self.first is None else self.clock() - self.first + self.step


def record(sf: sessionmaker[Session], engine: str, work: float, seconds: float | None) -> None:
    """Fold one finished job's measured speed into its engine's average."""
    if not seconds or seconds <= 0 or work <= 0:
        return
    measured, t = seconds / work, time.time()
    for _ in range(3):  # two workers may insert an engine's first figure at once: then update it
        try:
            with sf.begin() as s:
                row = s.get(EngineSpeed, engine, with_for_update=True)
                if row is None:
                    s.add(EngineSpeed(engine=engine, seconds_per_step_frame=measured, jobs=1, updated_at=t))
                else:
                    w = max(NEW_JOB_WEIGHT, 1.0 / (row.jobs + 1))
                    row.seconds_per_step_frame = (1 - w) * row.seconds_per_step_frame + w * measured
                    row.jobs, row.updated_at = row.jobs + 1, t
            return
        except IntegrityError:
            continue
        except Exception as e:  # noqa: BLE001 - the video is made; a figure missed only blunts the estimates
            log.warning("could not record the speed of %s: %s", engine, e)
            return


def speeds(sf: sessionmaker[Session]) -> dict[str, float]:
    """{engine: measured seconds per step of one 64x64 frame}."""
    with sf() as s:
        return {e: v for e, v in s.execute(select(EngineSpeed.engine, EngineSpeed.seconds_per_step_frame))}


def video_objects(sf: sessionmaker[Session], settings, rows: list[VideoRow]) -> list[dict]:
    """The API's video objects for `rows`, with `queue_position` and `eta_seconds` filled in for the
    queued and running ones (two reads, whatever the number of rows)."""
    objs = [jobs.to_api(r) for r in rows]
    if not any(o["status"] in jobs.ACTIVE for o in objs):
        return objs
    with sf() as s:
        active = s.execute(select(VideoRow.id, VideoRow.status, VideoRow.request, VideoRow.model, VideoRow.progress,
                                  VideoRow.worker_id, VideoRow.enqueued_at, VideoRow.created_ns)
                           .where(VideoRow.status.in_(jobs.ACTIVE))).all()
    measured = speeds(sf)

    def estimate(r) -> float:
        request = json.loads(r.request)
        speed = measured.get(request.get("engine") or r.model, settings.seconds_per_step_frame)
        return speed * work_of(request)

    running = [r for r in active if r.status == "in_progress"]
    left = {r.id: estimate(r) * (100 - min(r.progress, 99)) / 100 for r in running}
    queued = sorted((r for r in active if r.status == "queued"), key=lambda r: (r.enqueued_at or 0.0, r.created_ns, r.id))
    workers = max(1, len({r.worker_id for r in running}))
    ahead = sum(left.values())
    position, eta = {}, {}
    for k, r in enumerate(queued):
        own = estimate(r)
        position[r.id], eta[r.id] = k + 1, ahead / workers + own
        ahead += own
    eta.update(left)
    for o in objs:
        if o["id"] in eta:
            o["queue_position"] = position.get(o["id"])
            o["eta_seconds"] = round(eta[o["id"]], 2)
    return objs


def video_object(sf: sessionmaker[Session], settings, row: VideoRow) -> dict:
    return video_objects(sf, settings, [row])[0]
