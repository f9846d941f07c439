"""Topic quality against expert labels: `make eval-topics`.

Builds the marts on the labelled papers — the shared API fixtures (the malformed ones are
quarantined), the page-text capture and the October 2025 demo captures are ingested with
`papers ingest` into a temporary PAPERS_HOME — joins `marts.paper_topics` with
`tests/data/topic_labels.csv` and prints, for the `train` and `holdout` splits:

* primary agreement: share of papers whose `is_primary` topic is the labelled primary;
* topic-set precision and recall, micro over (paper, topic) pairs. The predicted set is every
  topic row of the paper in `paper_topics`; the labelled set is primary + `also`. `other` is a
  topic like any other: a paper predicted `other` while labelled `math` counts one false positive
  (`other`) and one false negative (`math`); a paper labelled and predicted `other` one hit;
* a confusion table of primaries (labelled row → predicted column, non-zero cells only);
* the 10 worst misses (wrong primary, then most set errors) with their matched evidence.

Labels are keyed by arXiv id; page-text cards (`card:` ids) are matched to the warehouse by their
normalized title (the rule of macro `normalize_title`), which also finds a card merged into an
arXiv paper.

`--warehouse PATH` evaluates an existing warehouse that holds these papers instead of building one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LABELS = REPO / "tests" / "data" / "topic_labels.csv"
SPLITS = ("train", "holdout")


def labelled_files() -> list[Path]:
    """The snapshot files the labelled papers come from."""
    return [*sorted((SHARED / "fixtures" / "daily_papers").glob("*.json")),
            SHARED / "fixtures" / "listing_text" / "papers-listing_captured-20251104.txt",
            *sorted((SHARED / "demo" / "daily_papers_2025-10").glob("*.json"))]



def tokens(text: str | None) -> list[str]:
    """The tokenizer of topic matching (macros matching_tokens + singularize_token), in Python:
    NFC, accents stripped, lower case, runs of a-z / 0-9, each plural-folded."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text or ""))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    out = []
    for tok in re.findall(r"[a-z0-9]+", folded):
        if len(tok) >= 5 and tok.endswith("ies"):
            tok = tok[:-3] + "y"
        elif len(tok) >= 4 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            tok = tok[:-1]
        out.append(tok)
    return out

def build_warehouse(home: Path) -> Path:
    """`papers --home HOME ingest` of the labelled files (in this process); the warehouse path.
    Raises RuntimeError with the command's output when it does not end with exit code 0."""
    from orchestration.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--home", str(home), "ingest", *map(str, labelled_files())])
    if code != 0:
        raise RuntimeError(f"papers ingest exited {code}:\n{out.getvalue()[-4000:]}")
    return home / "warehouse.duckdb"


def _normalized_title(expr: str) -> str:
    """SQL of dbt macro normalize_title (dbt_project/macros/text_normalization.sql)."""
    return (f"regexp_replace(replace(replace(lower(strip_accents(nfc_normalize({expr}))), 'ﬁ', 'fi'), "
            f"'ﬂ', 'fl'), '[^\\p{{L}}\\p{{N}}]+', '', 'g')")


@dataclass(frozen=True)
class Labelled:
    label_id: str
    paper_id: str          # the warehouse's paper_id
    split: str
    primary: str
    topics: frozenset[str]  # primary + also
    title: str
    summary: str | None
    ai_keywords: tuple[str, ...]


def read_labels() -> list[dict[str, str]]:
    with LABELS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def labelled_papers(con: duckdb.DuckDBPyConnection) -> list[Labelled]:
    """Every label joined with its paper in marts.papers (one each; a label without its paper raises)."""
    labels = read_labels()
    con.execute("create or replace temp table topic_labels (label_id varchar, title varchar)")
    con.executemany("insert into topic_labels values (?, ?)", [(r["paper_id"], r["title"]) for r in labels])
    found = con.sql(f"""
        select labels.label_id, papers.paper_id, papers.title, papers.summary, papers.ai_keywords
        from topic_labels as labels
        inner join marts.papers as papers
            on case when starts_with(labels.label_id, 'card:')
                    then {_normalized_title('labels.title')} = {_normalized_title('papers.title')}
                    else labels.label_id = papers.paper_id end
    """).fetchall()
    by_label = defaultdict(list)
    for label_id, *rest in found:
        by_label[label_id].append(rest)
    missing = [r["paper_id"] for r in labels if len(by_label[r["paper_id"]]) != 1]
    if missing:
        raise RuntimeError(f"{len(missing)} labelled paper(s) not found once in marts.papers: {missing[:5]}")
    out = []
    for r in labels:
        paper_id, title, summary, keywords = by_label[r["paper_id"]][0]
        also = {t for t in r["also"].split(";") if t}
        out.append(Labelled(r["paper_id"], paper_id, r["split"], r["primary"],
                            frozenset({r["primary"], *also}), title or "", summary, tuple(keywords or ())))
    return out


@dataclass(frozen=True)
class Predicted:
    primary: str
    topics: frozenset[str]
    evidence: dict[str, tuple[float, str]]  # topic -> (score, evidence)


def predictions(con: duckdb.DuckDBPyConnection) -> dict[str, Predicted]:
    columns = {c for (c,) in con.sql("select column_name from (describe marts.paper_topics)").fetchall()}
    # a warehouse built before weighted scoring has neither score nor evidence (its matched_terms stand in)
    explained = "score, evidence" if {"score", "evidence"} <= columns else "matched_terms, ''"
    rows = con.sql(f"select paper_id, topic, is_primary, {explained} from marts.paper_topics").fetchall()
    topics, primary, evidence = defaultdict(set), {}, defaultdict(dict)
    for paper_id, topic, is_primary, score, text in rows:
        topics[paper_id].add(topic)
        evidence[paper_id][topic] = (score, text or "")
        if is_primary:
            primary[paper_id] = topic
    return {p: Predicted(primary[p], frozenset(topics[p]), evidence[p]) for p in topics}


@dataclass(frozen=True)
class Scores:
    papers: int
    primary_agreement: float
    precision: float
    recall: float


def score(pairs: list[tuple[Labelled, Predicted]]) -> Scores:
    agree = sum(p.primary == lab.primary for lab, p in pairs)
    hits = sum(len(lab.topics & p.topics) for lab, p in pairs)
    predicted = sum(len(p.topics) for _, p in pairs)
    labelled = sum(len(lab.topics) for lab, _ in pairs)
    return Scores(len(pairs), agree / len(pairs), hits / predicted, hits / labelled)


def evaluate(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Scores, list[tuple[Labelled, Predicted]]]]:
    """Per split: the scores and the (label, prediction) pairs."""
    got = predictions(con)
    pairs = defaultdict(list)
    for lab in labelled_papers(con):
        pairs[lab.split].append((lab, got[lab.paper_id]))
    return {split: (score(pairs[split]), pairs[split]) for split in SPLITS}


def _confusion(pairs: list[tuple[Labelled, Predicted]]) -> str:
    cells = Counter((lab.primary, p.primary) for lab, p in pairs)
    lines = [f"  {'labelled primary':<28} {'n':>4} {'right':>5}  predicted instead"]
    for topic in sorted({lab.primary for lab, _ in pairs}):
        n = sum(c for (t, _), c in cells.items() if t == topic)
        wrong = sorted(((c, q) for (t, q), c in cells.items() if t == topic and q != topic), reverse=True)
        lines.append(f"  {topic:<28} {n:>4} {cells[(topic, topic)]:>5}  "
                     + ", ".join(f"{q} {c}" for c, q in wrong))
    return "\n".join(lines)


def _worst(pairs: list[tuple[Labelled, Predicted]], n: int = 10) -> str:
    def badness(pair):
        lab, p = pair
        return (p.primary != lab.primary, len(lab.topics ^ p.topics), lab.label_id)

    lines = []
    for lab, p in sorted(pairs, key=badness, reverse=True)[:n]:
        lines.append(f"  {lab.paper_id}  {lab.title[:90]}")
        lines.append(f"    labelled {lab.primary} (+ {', '.join(sorted(lab.topics - {lab.primary})) or '-'}); "
                     f"predicted {p.primary} (+ {', '.join(sorted(p.topics - {p.primary})) or '-'})")
        for topic, (s, text) in sorted(p.evidence.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"    {topic} {s:.2f}: {text[:160] or '(no term matched)'}")
    return "\n".join(lines)


def report(results) -> str:
    out = []
    for split in SPLITS:
        s, _ = results[split]
        out.append(f"{split:<8} {s.papers:>4} papers  primary agreement {s.primary_agreement:6.1%}  "
                   f"topic-set precision {s.precision:6.1%}  recall {s.recall:6.1%}")
    for split in SPLITS:
        _, pairs = results[split]
        out += ["", f"confusion of primaries ({split}):", _confusion(pairs),
                "", f"10 worst misses ({split}):", _worst(pairs)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m topics.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, help="evaluate this warehouse instead of building one")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="topic-eval-") as tmp:
        warehouse = args.warehouse or build_warehouse(Path(tmp))
        built = time.monotonic() - started
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            results = evaluate(con)
        finally:
            con.close()
    print(report(results))
    print(f"\ntook {time.monotonic() - started:.1f} s (building the marts: {built:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
