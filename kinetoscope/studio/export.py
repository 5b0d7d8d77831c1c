"""A user's data as one zip: every video's files, its recipe and metadata, the account's
details and key list (never hashes), and the audit entries about the account."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy import or_, select

from kinetoscope.studio import audit, jobs
from kinetoscope.studio.models import AuditEntry, User, VideoRow


def export_zip(svc, user: User) -> Path:
    """Write the zip to a temp file and return its path (the caller removes it)."""
    from kinetoscope.studio.accounts import list_keys

    tmp = Path(tempfile.mkstemp(prefix="kinetoscope-export-", suffix=".zip")[1])
    with svc.sessions() as s:
        rows = list(s.scalars(select(VideoRow).where(VideoRow.owner_id == user.id).order_by(VideoRow.created_ns)))
        entries = [audit.as_dict(e) for e in s.scalars(
            select(AuditEntry).where(or_(AuditEntry.actor == user.id, AuditEntry.target == user.id)).order_by(AuditEntry.seq))]
    account = {"id": user.id, "username": user.username, "is_admin": user.is_admin, "created_at": user.created_at,
               "keys": [{"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": k.scopes.split(),
                         "created_at": k.created_at, "expires_at": k.expires_at, "revoked_at": k.revoked_at}
                        for k in list_keys(svc.sessions, user.id)],
               "webhook_url": user.webhook_url}  # never its secret, as never the keys
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("account.json", json.dumps(account, indent=2))
        z.writestr("audit.jsonl", "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
        for row in rows:
            z.writestr(f"videos/{row.id}/video.json", json.dumps(jobs.to_api(row), indent=2))
            for key in json.loads(row.files or "{}").values():
                path = svc.storage.path(key)
                if path.is_file():
                    z.write(path, f"videos/{key}", compress_type=zipfile.ZIP_STORED)
            if row.input_key and svc.storage.path(row.input_key).is_file():
                z.write(svc.storage.path(row.input_key), f"videos/{row.input_key}")
    return tmp
