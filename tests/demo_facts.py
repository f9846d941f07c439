"""Facts about the demo month computed straight from its JSON files (../shared/demo, read in place),
independently of the pipeline, to compare with what the dashboard, README and digests show."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from functools import cache

from tests.conftest import DEMO


@cache
def records() -> tuple[tuple[date, dict], ...]:
    """(listing date, API record) of every demo file, in file-name order."""
    out = []
    for path in sorted(DEMO.glob("*.json")):
        day = date.fromisoformat(path.name[:10])
        out += [(day, r) for r in json.loads(path.read_text())]
    return tuple(out)


def papers_per_day() -> dict[date, int]:
    return dict(sorted(Counter(day for day, _ in records()).items()))


@cache
def papers() -> dict[str, dict]:
    """arXiv id -> {first_listed_on, upvotes (latest capture), authors, title}; files are captured in
    date order, so the last record seen is the latest capture."""
    out: dict[str, dict] = {}
    for day, r in records():
        p = r["paper"]
        entry = out.setdefault(p["id"], {"first_listed_on": day, "captures": 0})
        entry.update(upvotes=p["upvotes"], authors=len(p["authors"]), title=p["title"])
        entry["captures"] += 1
    return out


def top_paper(start: date, end: date) -> tuple[str, int]:
    """(arXiv id, upvotes) of the most upvoted paper first listed in [start, end] (ties: smallest id)."""
    listed = [(-v["upvotes"], pid) for pid, v in papers().items() if start <= v["first_listed_on"] <= end]
    upvotes, pid = min(listed)
    return pid, -upvotes


def team_sizes() -> dict[int, int]:
    return dict(sorted(Counter(v["authors"] for v in papers().values()).items()))
