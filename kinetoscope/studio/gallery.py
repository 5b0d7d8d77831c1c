"""The gallery's query: one account's videos newest first, searched by prompt, filtered by status,
task and model (or one group of variations), paged by the last id shown, with the variations a
request made together (a group id) gathered into one entry.

    entries, next_after = search(sessions, owner_id, Query(q="red circle", status="completed"), limit=20)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio.models import STATUSES, VideoRow

MAX_QUERY_CHARS = 200  # a search longer than this is cut (it is a search box, not a prompt)


@dataclass(frozen=True)
class Query:
    q: str = ""  # words that must all appear in the prompt (any case, in any order)
    status: str = ""  # one of models.STATUSES, or "" for all
    task: str = ""
    model: str = ""
    group: str = ""  # only the variations of this group
    after: str = ""  # the last video id of the page before

    def filters(self) -> dict[str, str]:
        """The non-empty filters, for links that keep them (the pager)."""
        return {k: v for k, v in (("q", self.q), ("status", self.status), ("task", self.task),
                                  ("model", self.model), ("group", self.group)) if v}


@dataclass
class Entry:
    """One place in the gallery: a video, or the variations of one request side by side."""

    videos: list  # VideoRow, newest first; a group's in seed order
    group_id: str | None = None


def _where(owner_id: str | None, query: Query) -> list:
    conds = []
    if owner_id is not None:
        conds.append(VideoRow.owner_id == owner_id)
    for word in query.q[:MAX_QUERY_CHARS].split():
        conds.append(func.lower(VideoRow.prompt).contains(word.lower(), autoescape=True))
    if query.status:
        conds.append(VideoRow.status == query.status)
    if query.task:
        conds.append(VideoRow.task == query.task)
    if query.model:
        conds.append(VideoRow.model == query.model)
    if query.group:
        conds.append(VideoRow.group_id == query.group)
    return conds


def search(sf: sessionmaker[Session], owner_id: str | None, query: Query, limit: int) -> tuple[list[Entry], str | None]:
    """(entries, the id to page on after them, or None on the last page). Raises KeyError for an
    `after` id that is not one of this account's videos. A group cut by the page's end is completed
    (its older members come with it), so variations are never split across pages."""
    conds = _where(owner_id, query)
    with sf() as s:
        if query.after:
            cur = s.get(VideoRow, query.after) if 0 < len(query.after) <= 64 else None
            if cur is None or (owner_id is not None and cur.owner_id != owner_id):
                raise KeyError(query.after)
            conds.append(or_(VideoRow.created_ns < cur.created_ns,
                             and_(VideoRow.created_ns == cur.created_ns, VideoRow.id < cur.id)))
        order = (VideoRow.created_ns.desc(), VideoRow.id.desc())
        rows = list(s.scalars(select(VideoRow).where(*conds).order_by(*order).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        if more and rows[-1].group_id:  # the rest of a group the page ends in
            last = rows[-1]
            rest = list(s.scalars(select(VideoRow).where(*conds, VideoRow.group_id == last.group_id, or_(
                VideoRow.created_ns < last.created_ns,
                and_(VideoRow.created_ns == last.created_ns, VideoRow.id < last.id))).order_by(*order)))
            rows += rest
            more = s.scalar(select(func.count()).select_from(VideoRow).where(*conds, or_(
                VideoRow.created_ns < rows[-1].created_ns,
                and_(VideoRow.created_ns == rows[-1].created_ns, VideoRow.id < rows[-1].id)))) > 0
    return _entries(rows), (rows[-1].id if more and rows else None)


def _entries(rows: list) -> list[Entry]:
    """Rows newest first -> entries; a group's rows (wherever they fall on the page) join its first
    place, in the order they were made (seed order)."""
    entries: list[Entry] = []
    groups: dict[str, Entry] = {}
    for row in rows:
        if row.group_id and row.group_id in groups:
            groups[row.group_id].videos.append(row)
            continue
        entry = Entry([row], row.group_id)
        if row.group_id:
            groups[row.group_id] = entry
        entries.append(entry)
    for entry in groups.values():
        entry.videos.sort(key=lambda r: (r.created_ns, r.id))
    return entries


def choices(sf: sessionmaker[Session], owner_id: str | None) -> dict[str, list[str]]:
    """What the filters offer: every status, and the tasks and models this account's videos have."""
    mine = [VideoRow.owner_id == owner_id] if owner_id is not None else []
    with sf() as s:
        tasks = sorted(s.scalars(select(VideoRow.task).where(*mine).distinct()))
        models = sorted(s.scalars(select(VideoRow.model).where(*mine).distinct()))
    return {"status": list(STATUSES), "task": tasks, "model": models}
