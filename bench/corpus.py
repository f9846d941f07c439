"""Deterministic synthetic corpus of Hugging Face ``/api/daily_papers`` snapshot files.

Each element has the shape of a real API element (as in the 2025-10 fixtures): top-level
``numComments``, ``submittedBy``, ``organization``, ``thumbnail``, duplicated ``title``/``summary``…
and ``paper`` {id, authors[{_id, name, hidden}], publishedAt, submittedOnDailyAt, title, summary
(~1.2 kB), upvotes, ai_keywords (5–10), ai_summary, githubRepo, githubStars, projectPage,
organization, submittedOnDailyBy, discussionId}. Authors per paper: 1–40, median 6 (log-normal).

Files: daily snapshots of ~50 records (``YYYY-MM-DD_captured-YYYYMMDDTHHMMSSZ.json``) plus
``LARGE_FILES`` large files holding ~20% of the records. Listing dates are consecutive from 2023-05-04
and wrap around after ``LAST_DATE`` (the pipeline rejects listing dates in the future), each further
pass being a later capture of the same dates (+1 hour per pass), as hourly captures of a listing are.
Every record has a unique arXiv-like ``paper.id``. The output depends only on (records, seed): each file
is generated from its own seeded RNG, so files can be written in parallel.

    python -m bench.corpus --records 100000 --out /tmp/corpus
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

FIRST_DATE = date(2023, 5, 4)
LAST_DATE = date(2025, 10, 31)  # fixed (not "today") so the corpus does not depend on the run date
WINDOW_DAYS = (LAST_DATE - FIRST_DATE).days + 1
PER_FILE = 50
LARGE_FILES = 3
LARGE_SHARE = 0.20
DEFAULT_SEED = 20251003

_SYLLABLES = ("an", "bo", "chen", "da", "el", "fa", "gu", "hao", "in", "jo", "ka", "li", "mi", "na",
              "or", "pe", "qi", "ra", "si", "ta", "ul", "vi", "wei", "xu", "ya", "zh", "mar", "tin",
              "son", "lee", "kim", "ro", "sa", "yu", "jun", "ming", "lu", "ve", "ne", "do")
_ACCENTED = ("José", "Zoë", "Łukasz", "Søren", "Ngọc", "Dvořák", "Müller", "Çelik", "王伟", "李娜",
             "Jürgen", "Élodie")
# Words of the topic taxonomy (dbt_project/seeds/topic_taxonomy.csv) are kept out of the generic
# vocabulary: each paper gets 1-2 topics of its own (a few topical words in its title, abstract and
# keywords), so that topic matching sees realistic rates (~1-3 topics per paper), not every topic.
_WORDS = ("model", "models", "language", "large", "learning", "video", "image", "generation",
          "training", "data", "policy", "vision", "transformer", "attention", "efficient", "inference",
          "scaling", "robust", "knowledge", "tokens", "context", "long", "memory", "sparse", "scene",
          "reconstruction", "code", "synthetic", "instruction", "tuning", "latent", "space", "temporal",
          "consistency", "teacher", "student", "framework", "novel", "approach", "method", "results",
          "demonstrate", "state-of-the-art", "performance", "across", "tasks", "we", "propose",
          "introduce", "show", "that", "our", "the", "of", "and", "in", "to", "a", "with", "for", "on",
          "by", "from", "which", "this", "while", "improves", "outperforms", "existing", "baselines",
          "significantly", "experiments", "extensive", "challenging", "settings", "quality", "high",
          "low", "cost", "compute", "its", "their", "these", "both", "however", "moreover", "further",
          "consistent", "gains", "analysis", "study", "design", "simple", "effective", "strong")
_TOPICAL = ("reasoning", "diffusion", "benchmark", "agent", "multimodal", "alignment", "preference",
            "reward", "evaluation", "retrieval", "graph", "quantization", "distillation", "speech",
            "audio", "navigation", "robot", "manipulation", "mathematical", "theorem", "proof",
            "safety", "hallucination")
_KEYWORDS = ("latent space", "temporal consistency", "position embedding", "contrastive objective",
             "teacher-student framework", "data augmentation", "loss function", "optimization",
             "generalization", "scalability", "throughput", "representation learning",
             "attention maps", "feature fusion", "encoder-decoder", "fine-tuning", "pre-training",
             "zero-shot", "few-shot", "in-context learning", "prompting", "embedding", "ablation study",
             "open-source", "dataset construction", "annotation", "evaluation metrics", "baseline models",
             "computational cost", "parameter efficiency", "long-horizon", "cross-domain", "transfer")
_TOPICAL_KEYWORDS = ("reinforcement learning", "chain of thought", "test time scaling", "quantization",
                     "mixture of experts", "video generation", "3D reconstruction", "gaussian splatting",
                     "speech recognition", "code generation", "mathematical reasoning", "theorem proving",
                     "reward model", "preference optimization", "RLHF", "GRPO", "instruction tuning",
                     "hallucination", "jailbreak", "autonomous driving", "world model", "KV cache",
                     "long context", "knowledge distillation", "pruning", "LoRA", "tool use")
_ORGS = [(f"org-{i}", f"Organization {i}" + (" — Lab" if i % 7 == 0 else "")) for i in range(400)]


def _hex24(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def _names() -> list[str]:
    """~130k distinct author names (a fixed pool, so authors recur across papers as they do)."""
    firsts = [a.capitalize() for a in _SYLLABLES] + [(a + b).capitalize() for a in _SYLLABLES
                                                     for b in _SYLLABLES[::3]]
    firsts += list(_ACCENTED)
    lasts = [(a + b).capitalize() for a in _SYLLABLES for b in _SYLLABLES[1::5]]
    return [f"{first} {last}" for first in firsts for last in lasts]


_NAMES = _names()


def _name(rng: random.Random) -> str:
    return _NAMES[int(rng.random() * len(_NAMES))]


def _sentences(seed: int) -> list[str]:
    rng = random.Random(f"sentences:{seed}")
    out = []
    for _ in range(4096):
        words = rng.choices(_WORDS, k=rng.randint(10, 22))
        out.append(" ".join(words).capitalize() + ".")
    return out


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _arxiv_id(serial: int) -> str:
    """A unique arXiv-like id for the ``serial``-th record: YYMM.NNNNN, 99,999 per month from 2305."""
    month_index, number = divmod(serial, 99_999)
    year, month = divmod(4 + month_index, 12)  # 2023-05 is month index 0
    return f"{23 + year:02d}{month + 1:02d}.{number + 1:05d}"


def _author_count(rng: random.Random) -> int:
    return max(1, min(40, round(math.exp(rng.gauss(math.log(6), 0.65)))))


def _summary(rng: random.Random, sentences: list[str], target: int, topical: list[str]) -> str:
    parts: list[str] = []
    length = 0
    while length < target:
        sentence = rng.choice(sentences)
        parts.append(sentence)
        length += len(sentence) + 1
    for word in topical:  # the paper's topics, a couple of times in its abstract
        for _ in range(2):
            i = rng.randrange(len(parts))
            parts[i] = parts[i][:-1] + f" with {word}."
    text = " ".join(parts)
    # real abstracts are wrapped at ~80 columns
    return "\n".join(text[i:i + 80] for i in range(0, len(text), 80))


def element(rng: random.Random, serial: int, listing: date, sentences: list[str]) -> dict:
    """One API element (a paper on the listing of ``listing``)."""
    arxiv_id = _arxiv_id(serial)
    day = datetime(listing.year, listing.month, listing.day, tzinfo=timezone.utc)
    published = day - timedelta(days=1, seconds=rng.randint(0, 86_399), milliseconds=rng.randint(0, 999))
    submitted = day + timedelta(seconds=rng.randint(0, 20_000), milliseconds=rng.randint(0, 999))
    topical = rng.sample(_TOPICAL, rng.choice((1, 1, 2)))
    title_words = rng.choices(_WORDS, k=rng.randint(5, 13))
    title_words.insert(rng.randrange(len(title_words) + 1), topical[0])
    title = " ".join(title_words).title()
    if rng.random() < 0.3:
        title = f"{rng.choice(_WORDS).capitalize()}: {title}"
    if rng.random() < 0.02:
        title += ' with "quoted" \\ parts'
    summary = _summary(rng, sentences, rng.randint(900, 1500), topical)
    authors = [{"_id": _hex24(rng), "name": _name(rng), "hidden": rng.random() < 0.01}
               for _ in range(_author_count(rng))]
    submitter = _name(rng).replace(" ", "").lower()
    submitter_id = _hex24(rng)
    has_repo = rng.random() < 0.5
    org = rng.choice(_ORGS) if rng.random() < 0.4 else None
    media = ([f"https://cdn-uploads.huggingface.co/production/uploads/{submitter_id}/{_hex24(rng)}.mp4"]
             if rng.random() < 0.15 else None)
    paper: dict = {"id": arxiv_id, "authors": authors}
    if media:
        paper["mediaUrls"] = media
    paper.update({
        "publishedAt": _iso(published),
        "submittedOnDailyAt": _iso(submitted),
        "title": title,
        "submittedOnDailyBy": {"_id": submitter_id, "avatarUrl": f"/avatars/{_hex24(rng)}.svg",
                               "isPro": rng.random() < 0.2, "fullname": submitter, "user": submitter,
                               "type": "user"},
        "summary": summary,
        "upvotes": 0,  # set after sorting below
        "discussionId": _hex24(rng),
    })
    if rng.random() < 0.3:
        paper["projectPage"] = f"https://{submitter}.github.io/{arxiv_id}/"
    if has_repo:
        paper["githubRepo"] = f"https://github.com/{submitter}/{title_words[0]}-{arxiv_id}"
    paper["ai_summary"] = " ".join(rng.choices(_WORDS, k=rng.randint(20, 35))).capitalize() + "."
    count = rng.randint(5, 10)
    topical_keywords = rng.sample(_TOPICAL_KEYWORDS, rng.choice((0, 1, 1, 2)))
    paper["ai_keywords"] = topical_keywords + rng.sample(_KEYWORDS, count - len(topical_keywords))
    if has_repo:
        paper["githubStars"] = rng.choice((None, rng.randint(0, 5000)))
    organization = None
    if org:
        organization = {"_id": f"{int(org[0][4:]):024x}", "name": org[0], "fullname": org[1],
                        "avatar": f"https://cdn-uploads.huggingface.co/production/uploads/{org[0]}.png"}
        paper["organization"] = organization
    top: dict = {
        "paper": paper,
        "publishedAt": _iso(published + timedelta(hours=-4)),
        "title": title,
        "summary": summary,
        "mediaUrls": media or [],
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": rng.choice((0, 1, 1, 1, 2, 2, 3, 5)),
        "submittedBy": {"_id": submitter_id, "avatarUrl": f"/avatars/{submitter_id}.svg",
                        "fullname": submitter, "name": submitter, "type": "user",
                        "isPro": False, "isHf": False, "isHfAdmin": False, "isMod": False,
                        "followerCount": rng.randint(0, 300)},
    }
    if organization:
        top["organization"] = organization
    top["isAuthorParticipating"] = rng.random() < 0.3
    return top


@dataclass(frozen=True)
class FilePlan:
    index: int
    listing_date: date
    first_serial: int
    records: int

    @property
    def name(self) -> str:
        captured = datetime(self.listing_date.year, self.listing_date.month, self.listing_date.day,
                            7, 49, 27, tzinfo=timezone.utc) + timedelta(hours=self.index // WINDOW_DAYS)
        return f"{self.listing_date.isoformat()}_captured-{captured:%Y%m%dT%H%M%SZ}.json"


def plan(records: int, per_file: int = PER_FILE, large_files: int = LARGE_FILES,
         large_share: float = LARGE_SHARE) -> list[FilePlan]:
    """How ``records`` split into files: ~``per_file`` per daily file, ~20% in ``large_files`` files."""
    large_total = int(records * large_share) if records >= 10 * per_file else 0
    large_files = large_files if large_total else 0
    small_total = records - large_total
    sizes = [per_file] * (small_total // per_file)
    if small_total % per_file:
        sizes.append(small_total % per_file)
    for i in range(large_files):
        sizes.append(large_total // large_files + (1 if i < large_total % large_files else 0))
    plans, serial = [], 0
    for index, size in enumerate(sizes):
        plans.append(FilePlan(index, _listing_date(index), serial, size))
        serial += size
    return plans


def _listing_date(index: int) -> date:
    return FIRST_DATE + timedelta(days=index % WINDOW_DAYS)


_SENTENCES: dict[int, list[str]] = {}


def _records_for(item: FilePlan, seed: int) -> list[dict]:
    sentences = _SENTENCES.setdefault(seed, _sentences(seed))
    rng = random.Random(f"{seed}:{item.index}")
    elements = [element(rng, item.first_serial + i, item.listing_date, sentences)
                for i in range(item.records)]
    # the listing is ordered by upvotes (descending), like the real one
    upvotes = sorted((int(rng.paretovariate(1.3)) - 1 for _ in elements), reverse=True)
    for e, votes in zip(elements, upvotes):
        e["paper"]["upvotes"] = min(votes, 100_000)
    return elements


def write_file(item: FilePlan, out: Path, seed: int = DEFAULT_SEED) -> int:
    """Write one planned file; returns its size in bytes."""
    body = json.dumps(_records_for(item, seed), ensure_ascii=False).encode("utf-8")
    (out / item.name).write_bytes(body)
    return len(body)


def _write_chunk(args: tuple[list[FilePlan], str, int]) -> int:
    items, out, seed = args
    return sum(write_file(item, Path(out), seed) for item in items)


@dataclass(frozen=True)
class Corpus:
    records: int
    files: int
    large_files: int
    bytes: int
    seconds: float
    first_date: str
    last_date: str
    seed: int


def generate(out: Path, records: int, seed: int = DEFAULT_SEED, workers: int | None = None) -> Corpus:
    """Write the corpus for ``records`` into ``out`` (created); deterministic for (records, seed)."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plans = plan(records)
    workers = workers or min(os.cpu_count() or 1, 8)
    # large files first so they do not end up alone at the tail; chunks keep IPC small
    ordered = sorted(plans, key=lambda p: -p.records)
    chunks: list[list[FilePlan]] = []
    chunk: list[FilePlan] = []
    for item in ordered:
        chunk.append(item)
        if sum(p.records for p in chunk) >= 5_000:
            chunks.append(chunk)
            chunk = []
    if chunk:
        chunks.append(chunk)
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            size = sum(pool.map(_write_chunk, [(c, str(out), seed) for c in chunks]))
    else:
        size = sum(_write_chunk((c, str(out), seed)) for c in chunks)
    large = sum(1 for p in plans if p.records > PER_FILE)
    dates = [p.listing_date for p in plans]
    return Corpus(records=sum(p.records for p in plans), files=len(plans), large_files=large, bytes=size,
                  seconds=round(time.perf_counter() - started, 3),
                  first_date=min(dates).isoformat() if dates else "",
                  last_date=max(dates).isoformat() if dates else "", seed=seed)


def extra_snapshot(out: Path, records: int, seed: int = DEFAULT_SEED, size: int = PER_FILE, nth: int = 0) -> Path:
    """The ``nth`` further daily snapshot of ``size`` new papers after a ``records`` corpus (new ids)."""
    index = len(plan(records)) + nth
    item = FilePlan(index=index, listing_date=_listing_date(index), first_serial=records + nth * size,
                    records=size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_file(item, out, seed + 1)
    return out / item.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    corpus = generate(args.out, args.records, args.seed, args.workers)
    print(json.dumps(asdict(corpus)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
