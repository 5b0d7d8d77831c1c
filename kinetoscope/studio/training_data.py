"""Studio uploads as training data, only with their owners' consent.

`export_consented` writes a folder that `kinetoscope train data=DIR` (the consented
folder loader in `kinetoscope/data/folder.py`) reads: the uploads whose owner ticked "let this
upload be used for training" when making the video or the character (captioned with its name),
and a manifest that records for each one its licence, its consent and where it came from. An upload without consent is never copied.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select

from kinetoscope.studio.models import Character, VideoRow

LICENCE = "kinetoscope-studio-upload; consent given by its owner per upload"


def export_consented(svc, out: str | Path) -> dict:
    out = Path(out)
    (out / "files").mkdir(parents=True, exist_ok=True)
    with svc.sessions() as s:
        rows = list(s.scalars(select(VideoRow).where(VideoRow.input_key.is_not(None)).order_by(VideoRow.created_ns)))
    lines, skipped, missing = [], 0, 0
    for row in rows:
        if not row.input_consent:
            skipped += 1
            continue
        src = svc.storage.path(row.input_key)
        if not src.is_file():
            missing += 1
            continue
        rel = f"files/{row.id}{src.suffix}"
        shutil.copyfile(src, out / rel)
        lines.append({"path": rel, "caption": row.prompt, "licence": LICENCE, "consent": "yes",
                      "source": f"studio upload for {row.id} by account {row.owner_id or 'open studio'}"})
    with svc.sessions() as s:
        cast = list(s.scalars(select(Character).order_by(Character.created_at, Character.id)))
    for c in cast:
        src = svc.storage.path(c.upload_key)
        if not c.input_consent:
            skipped += 1
        elif not src.is_file():
            missing += 1
        else:
            rel = f"files/{c.id}{src.suffix}"
            shutil.copyfile(src, out / rel)
            lines.append({"path": rel, "caption": c.name, "licence": LICENCE, "consent": "yes",
                          "source": f"studio character {c.id} by account {c.owner_id or 'open studio'}"})
    tmp = out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))
    tmp.replace(out / "manifest.jsonl")
    return {"exported": len(lines), "without_consent": skipped, "missing": missing, "folder": str(out)}
