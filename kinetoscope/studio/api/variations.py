"""Variations: `n` (1 to 4) videos from one create request, made with seeds s, s+1, ... and
sharing a group id, so that the gallery shows them side by side. All of them are made or none:
the quota must hold all n, and a refusal of any one removes those already queued."""

from __future__ import annotations

from kinetoscope import limits
from kinetoscope.request import new_seed
from kinetoscope.studio import jobs
from kinetoscope.studio.api import forms
from kinetoscope.studio.api.errors import ApiError

N = (1, 4)  # how many variations one request may ask for


def count_of(fields: dict) -> int:
    n = forms.number(fields, "n", int, 1)
    if not N[0] <= n <= N[1]:
        raise ApiError(400, f"n {n} is out of range: allowed {N[0]} to {N[1]} variations", "invalid_value", "n")
    return n


def create(svc, owner, fields: dict, files: dict[str, bytes], create_from_fields) -> list:
    """The create request's jobs (rows), in seed order: one, or n sharing a group id. `create_from_fields`
    is the one create path (api/videos.py's), run per variation."""
    n = count_of(fields)
    if n == 1:
        return [create_from_fields(svc, owner, fields, files)]
    seed = forms.number(fields, "seed", int)
    seed = new_seed() if seed is None else seed
    lo, hi = limits.SEED
    if not lo <= seed <= hi - (n - 1):
        raise ApiError(400, f"seed {seed} is out of range: allowed {lo} to {hi - (n - 1)} with {n} variations "
                            f"(they take seeds {seed} to {seed + n - 1})", "invalid_value", "seed")
    group, rows = jobs.new_id("group"), []
    try:
        for i in range(n):
            rows.append(create_from_fields(svc, owner, {**fields, "seed": seed + i}, files, group_id=group, room=n - i))
    except Exception:
        for row in rows:
            if jobs.remove(svc.sessions, row.id):
                svc.storage.delete_prefix(row.id)
        raise
    return rows


def response_of(rows: list) -> dict:
    """The first video's object (what OpenAI's client reads); with n > 1, `variations` lists every
    video's id in seed order."""
    out = jobs.to_api(rows[0])
    if len(rows) > 1:
        out["variations"] = [r.id for r in rows]
    return out
