"""Fit the topic term weights on the labelled `train` split: `make train-topics`.

Writes `dbt_project/seeds/topic_taxonomy.csv` (topic, term, weight) and the `base_score` column
of `dbt_project/seeds/topics.csv` (descriptions are kept). The `holdout` split is never read.

The model is the scorer `paper_topics` runs in SQL, so the fitted numbers mean there exactly what
they mean here:

    score(paper, topic) = base_score(topic)
                          + sum over the topic's terms found in the paper of
                            weight(topic, term) * (title_weight   if found in the title
                                                   + abstract_weight if in the abstract
                                                   + keywords_weight if in any ai_keyword)

Field weights come from `vars.topic_scoring` in dbt_project/dbt_project.yml. Candidate terms are
the fixed vocabulary `orchestration/topic_candidates.csv` (topic, term): a term can only count
for the topics it is listed under, and its weight there is ≥ 0, so a term never argues against a
topic and every non-zero weight reads as "this word is evidence for this topic". Fitting is a
softmax (multinomial logistic) regression over the topics with those masked weights, an L2
penalty, soft targets (the labelled primary 1, each `also` topic ALSO_TARGET, normalized), by
L-BFGS-B. Weights below PRUNE_BELOW are dropped from the seed.

Text is tokenized as the SQL does (macros matching_tokens / singularize_token): NFC, accents
stripped, lower case, runs of a-z / 0-9, simple plural folding; a multi-word term matches its
tokens consecutively within one field.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import yaml
from scipy import sparse
from scipy.optimize import minimize

from orchestration.topic_eval import build_warehouse, labelled_papers, tokens

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = Path(__file__).with_name("topic_candidates.csv")
SEEDS = REPO / "dbt_project" / "seeds"
DBT_PROJECT = REPO / "dbt_project" / "dbt_project.yml"
L2 = 0.01            # penalty on the squared term weights (per paper of the mean loss)
ALSO_TARGET = 0.4    # target mass of each `also` topic, relative to the primary's 1
PRUNE_BELOW = 0.05   # weights under this are left out of the seed
START_WEIGHT = 0.5


def scoring_vars() -> dict[str, float]:
    return yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))["vars"]["topic_scoring"]


def read_candidates() -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """(terms, topics, allowed (term index, topic index) pairs). Terms that tokenize alike are one."""
    with CANDIDATES.open(newline="", encoding="utf-8") as f:
        rows = [(r["topic"], r["term"]) for r in csv.DictReader(f)]
    topics = sorted({t for t, _ in rows} | {"other"})
    by_tokens: dict[tuple[str, ...], str] = {}
    pairs = set()
    for topic, term in rows:
        key = tuple(tokens(term))
        if key:
            by_tokens.setdefault(key, term)
            pairs.add((by_tokens[key], topic))
    terms = sorted(set(by_tokens.values()))
    term_ix, topic_ix = {t: i for i, t in enumerate(terms)}, {t: i for i, t in enumerate(topics)}
    return terms, topics, sorted((term_ix[a], topic_ix[b]) for a, b in pairs)


def features(papers, terms: list[str], field_weights: dict[str, float]) -> sparse.csr_matrix:
    """papers × terms: sum of the weights of the fields the term is found in."""
    index = {tuple(tokens(t)): i for i, t in enumerate(terms)}
    longest = max(len(k) for k in index)

    def found(text: str | None) -> set[int]:
        toks, hits = tokens(text), set()
        for i in range(len(toks)):
            for n in range(1, min(longest, len(toks) - i) + 1):
                j = index.get(tuple(toks[i:i + n]))
                if j is not None:
                    hits.add(j)
        return hits

    data, rows, cols = [], [], []
    for r, p in enumerate(papers):
        title, abstract = found(p.title), found(p.summary)
        keywords = set().union(*(found(k) for k in p.ai_keywords)) if p.ai_keywords else set()
        for j in title | abstract | keywords:
            rows.append(r)
            cols.append(j)
            data.append(field_weights["title_weight"] * (j in title)
                        + field_weights["abstract_weight"] * (j in abstract)
                        + field_weights["keywords_weight"] * (j in keywords))
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(papers), len(terms)))


def fit(x: sparse.csr_matrix, targets: np.ndarray, pairs: list[tuple[int, int]], n_topics: int):
    """Masked non-negative softmax regression; returns (weights per pair, base score per topic)."""
    pj = np.array([j for j, _ in pairs])
    pk = np.array([k for _, k in pairs])
    xp = x.tocsc()[:, pj].tocsr()  # papers × pairs
    to_topic = sparse.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)), pk)), shape=(len(pairs), n_topics))
    n = x.shape[0]

    def loss_and_gradient(theta):
        w, b = theta[:len(pairs)], theta[len(pairs):]
        s = (xp.multiply(w) @ to_topic).toarray() + b
        s -= s.max(axis=1, keepdims=True)
        prob = np.exp(s)
        prob /= prob.sum(axis=1, keepdims=True)
        loss = -(targets * np.log(prob + 1e-12)).sum() / n + L2 * (w ** 2).sum()
        g = (prob - targets) / n
        grad_w = np.asarray(xp.multiply(g[:, pk]).sum(axis=0)).ravel() + 2 * L2 * w
        return loss, np.concatenate([grad_w, g.sum(axis=0)])

    start = np.concatenate([np.full(len(pairs), START_WEIGHT), np.zeros(n_topics)])
    bounds = [(0.0, None)] * len(pairs) + [(None, None)] * n_topics
    result = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 1000})
    base = result.x[len(pairs):]
    return result.x[:len(pairs)], base - base.mean()


def soft_targets(papers, topics: list[str]) -> np.ndarray:
    ix = {t: i for i, t in enumerate(topics)}
    y = np.zeros((len(papers), len(topics)))
    for r, p in enumerate(papers):
        y[r, ix[p.primary]] = 1.0
        for t in p.topics - {p.primary}:
            y[r, ix[t]] = ALSO_TARGET
    return y / y.sum(axis=1, keepdims=True)


def write_seeds(terms, topics, pairs, weights, base) -> int:
    rows = sorted((topics[k], terms[j], round(float(w), 3))
                  for (j, k), w in zip(pairs, weights) if w >= PRUNE_BELOW)
    with (SEEDS / "topic_taxonomy.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["topic", "term", "weight"])
        out.writerows(rows)
        out.writerow(["other", "", ""])
    path = SEEDS / "topics.csv"
    with path.open(newline="", encoding="utf-8") as f:
        described = list(csv.DictReader(f))
    base_of = dict(zip(topics, (round(float(b), 3) for b in base)))
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=["topic", "description", "base_score"], lineterminator="\n")
        out.writeheader()
        for row in described:
            out.writerow({**row, "base_score": base_of[row["topic"]]})
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.topic_train", description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, help="read the labelled papers from this warehouse instead of building one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="topic-train-") as tmp:
        warehouse = args.warehouse or build_warehouse(Path(tmp))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            train = [p for p in labelled_papers(con) if p.split == "train"]
        finally:
            con.close()
    terms, topics, pairs = read_candidates()
    x = features(train, terms, scoring_vars())
    weights, base = fit(x, soft_targets(train, topics), pairs, len(topics))
    kept = write_seeds(terms, topics, pairs, weights, base)
    print(f"fitted on {len(train)} train papers: {kept} (topic, term) weights of {len(pairs)} candidates "
          f"written to {SEEDS / 'topic_taxonomy.csv'}; base scores to {SEEDS / 'topics.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
