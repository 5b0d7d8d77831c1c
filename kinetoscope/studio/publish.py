"""Writing a job's video file: the one place the studio turns frames into a published file,
with its recipe (and, once provenance lands, its signature and watermark) attached."""

from __future__ import annotations

from pathlib import Path

from kinetoscope.media import write_video


def write_video_file(svc, row, video, path: Path) -> Path:
    meta = {**video.metadata, "video_id": row.id, "task": row.task}
    if row.remixed_from_video_id:
        meta["remixed_from_video_id"] = row.remixed_from_video_id
    if row.source_video_id:
        meta["source_video_id"] = row.source_video_id
    return write_video(path, video.frames, video.fps, metadata=meta)
