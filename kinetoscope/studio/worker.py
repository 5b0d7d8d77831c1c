"""A worker: takes job ids from the queue, claims the row, generates, stores the files, and
marks the job complete exactly once. A heartbeat thread keeps the lease while it works; if the
job is deleted (or the lease lost) the generation stops at the next step and partial files go.

Run any number of them (`kinetoscope worker`) against the same database, queue and storage;
`kinetoscope serve` runs one in-process by default.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from kinetoscope.engines import Cancelled
from kinetoscope.pipeline import GenerationRequest, RequestError, Video
from kinetoscope.progress import WithPreview
from kinetoscope.studio import estimates, jobs, previews, webhooks
from kinetoscope.studio.recipes import build_request, frames_of
from kinetoscope.studio.services import Services
from kinetoscope.studio.storage import VARIANTS, StorageError

log = logging.getLogger("kinetoscope.worker")
REAP_EVERY_SECONDS = 5.0
CHECK_SECONDS = 0.2  # between a running job's reads of its own row: a cancel stops it at the step after


class _Lease:
    """Beats the job's heart every few seconds in a thread; remembers if the job was lost."""

    def __init__(self, svc: Services, video_id: str, worker_id: str):
        self.svc, self.video_id, self.worker_id = svc, video_id, worker_id
        self.progress, self.lost = 0, False
        self.watch, self._checked = estimates.Stopwatch(), time.monotonic()  # its speed; its last cancel check
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{video_id[:14]}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def beat(self) -> None:
        try:
            if not jobs.heartbeat(self.svc.sessions, self.video_id, self.worker_id, self.progress, self.svc.settings):
                self.lost = True
        except Exception as e:  # noqa: BLE001 - database briefly away: keep working, try again
            log.warning("heartbeat for %s failed: %s", self.video_id, e)

    def still_ours(self) -> bool:
        """False once the job was cancelled, deleted or taken over (read at most every CHECK_SECONDS)."""
        if not self.lost and time.monotonic() - self._checked >= CHECK_SECONDS:
            self._checked = time.monotonic()
            try:
                self.lost = not jobs.running(self.svc.sessions, self.video_id, self.worker_id)
            except Exception as e:  # noqa: BLE001 - database briefly away: keep working, the heartbeat retries
                log.warning("cancel check for %s failed: %s", self.video_id, e)
        return not self.lost

    def _run(self) -> None:
        while not self._stop.wait(self.svc.settings.heartbeat_seconds):
            self.beat()


class Worker:
    def __init__(self, svc: Services, worker_id: str | None = None):
        self.svc = svc
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident() % 10000}"
        self._last_reap = 0.0

    # --- the loop ------------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        if self.svc.settings.worker_threads:
            import torch

            torch.set_num_threads(self.svc.settings.worker_threads)
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                self.run_once(timeout=1.0)
            except Exception as e:  # noqa: BLE001 - queue or database away: wait, reconnect, go on
                log.warning("worker %s: %s; retrying in 1 s", self.worker_id, e)
                stop.wait(1.0)

    def run_once(self, timeout: float = 1.0) -> bool:
        """Housekeeping, then at most one job. True if a job was run."""
        if time.monotonic() - self._last_reap > REAP_EVERY_SECONDS:
            self.housekeeping()
        video_id = self.svc.queue.pop(timeout)
        if video_id is None:
            return False
        return self.process(video_id)

    def housekeeping(self) -> None:
        self._last_reap = time.monotonic()
        counts = jobs.reap(self.svc.sessions, self.svc.queue, self.svc.settings)
        for vid in counts["expired"]:
            self.svc.storage.delete_prefix(vid)
        for d in jobs.pending_deliveries(self.svc.sessions):
            webhooks.deliver(self.svc.sessions, d, self.svc.settings)

    # --- one job -------------------------------------------------------------------------------
    def process(self, video_id: str) -> bool:
        svc, settings = self.svc, self.svc.settings
        row = jobs.claim(svc.sessions, video_id, self.worker_id, settings)
        if row is None:  # done, deleted, or another worker holds it
            return False
        log.info("worker %s: %s (%s, attempt %d)", self.worker_id, video_id, row.task, row.attempts)
        with _Lease(svc, video_id, self.worker_id) as lease:
            try:
                video = self._generate(row, lease)
                files, size_bytes = self._store(row, video)
                took = lease.watch.seconds()
                previews.discard(svc.storage, video_id)
            except Cancelled:
                if jobs.ended_by_owner(svc.sessions, video_id):  # deleted or cancelled while running
                    svc.storage.delete_prefix(video_id)
                return False
            except (RequestError, ValueError) as e:
                svc.storage.delete_prefix(video_id)
                return jobs.fail(svc.sessions, video_id, self.worker_id, "invalid_request", str(e), settings)
            except (StorageError, OSError) as e:
                svc.storage.delete_prefix(video_id)
                return jobs.fail(svc.sessions, video_id, self.worker_id, "storage_error", str(e), settings)
            except Exception as e:  # noqa: BLE001 - a bug or engine failure: record it, keep the worker alive
                log.exception("job %s failed", video_id)
                svc.storage.delete_prefix(video_id)
                return jobs.fail(svc.sessions, video_id, self.worker_id, "internal_error",
                                 f"{type(e).__name__}: {e}", settings)
        seconds = len(video.frames) / video.fps if row.task == "loop" else None  # its length: the bridge's crossfade decides
        if lease.lost or not jobs.complete(svc.sessions, video_id, self.worker_id, files, settings, size_bytes, seconds):
            if jobs.ended_by_owner(svc.sessions, video_id):
                svc.storage.delete_prefix(video_id)
            return False
        estimates.record(svc.sessions, estimates.engine_of(row), estimates.work_of(json.loads(row.request)), took)
        return True

    def _generate(self, row, lease: _Lease) -> Video:
        engine = self.svc.engines.get(json.loads(row.request).get("engine") or row.model)  # an alias's: as at create
        start = time.monotonic()

        def progress(stage: str, i: int, n: int) -> None:
            if not lease.still_ours():
                raise Cancelled(row.id)
            lease.watch(stage, i, n)
            # denoising is ~90% of the work, decoding and writing the rest
            lease.progress = int(90 * i / max(n, 1)) if stage == "denoise" else 95
            if time.monotonic() - start > 0.5 and i in (1, n):
                lease.beat()

        lease.progress = 1
        lease.beat()
        if self.svc.settings.previews:
            progress = WithPreview(progress, previews.Publisher(self.svc.storage, row.id))
        if json.loads(row.request).get("characters"):  # a character's reference frame starts it (studio/characters.py)
            from kinetoscope.studio import characters

            return characters.generate(self.svc, row, engine, progress)
        return build_request(self.svc, row, engine, progress)

    def _store(self, row, video: Video) -> tuple[dict, int]:
        from kinetoscope.media import spritesheet, thumbnail

        from kinetoscope.studio.publish import write_video_file

        files, size = {}, 0
        with tempfile.TemporaryDirectory(prefix="kinetoscope-job-") as tmp:
            tmp = Path(tmp)
            name, _ = VARIANTS["video"]
            parent = None
            if row.source_video_id:
                parent = self.svc.storage.path(f"{row.source_video_id}/{VARIANTS['video'][0]}")
            elif row.task in ("extend", "edit") and row.input_key:
                parent = self.svc.storage.path(row.input_key)
            inputs = [self.svc.storage.path(row.input_key)] if row.input_key and parent is None else []
            write_video_file(self.svc, row, video, tmp / name, parent=parent if parent and parent.is_file() else None,
                             inputs=[p for p in inputs if p.is_file()])
            thumbnail(video.frames).save(tmp / VARIANTS["thumbnail"][0], format="WEBP", quality=85)
            spritesheet(video.frames).save(tmp / VARIANTS["spritesheet"][0], format="JPEG", quality=85)
            for variant, (fname, _) in VARIANTS.items():
                key = f"{row.id}/{fname}"
                self.svc.storage.put_file(key, tmp / fname)
                files[variant] = key
                size += (tmp / fname).stat().st_size
        if row.input_key and (upload := self.svc.storage.path(row.input_key)).is_file():
            size += upload.stat().st_size  # the upload it was made from stays stored with it
        return files, size


__all__ = ["GenerationRequest", "VARIANTS", "Worker", "frames_of"]
