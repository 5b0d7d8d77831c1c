"""Writing a job's video file: the one place the studio turns frames into a published file,
with its recipe, an invisible watermark (installation id + video id) and a signed C2PA manifest
(`c2pa.created`, or `c2pa.edited` with the source video as its parent ingredient); the upload it was
made from and each character it used (named "character @name (id)") are its input ingredients."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kinetoscope.media.provenance import save_video

EDITS = ("extend", "edit")


def write_video_file(svc, row, video, path: Path, parent: Path | None = None, inputs=()) -> Path:
    meta = {**video.metadata, "video_id": row.id, "task": row.task}
    if row.remixed_from_video_id:
        meta["remixed_from_video_id"] = row.remixed_from_video_id
    if row.source_video_id:
        meta["source_video_id"] = row.source_video_id
    from kinetoscope.studio.characters import ingredients

    inputs = [*inputs, *ingredients(svc, row)]
    s = svc.settings
    return save_video(dataclasses.replace(video, metadata=meta), path, data_dir=s.data_dir, video_id=row.id,
                      action="edited" if row.task in EDITS else "created", parent=parent, inputs=tuple(inputs),
                      include_prompt=s.sign_prompt, watermark=s.watermark)
