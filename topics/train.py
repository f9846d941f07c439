"""Fit the topic term weights on the labelled `train` split: `make train-topics`.

Writes `dbt_project/seeds/topic_taxonomy.csv` (topic, term, weight), the `base_score` column of
`dbt_project/seeds/topics.csv` (descriptions are kept) and the secondary rule
(`secondary_margin`, `secondary_over_other` of `vars.topic_scoring` in dbt_project/dbt_project.yml).
The `holdout` split is never read.

The model is the scorer `paper_topics` runs in SQL, so the fitted numbers mean there exactly what
they mean here:

    score(paper, topic) = base_score(topic)
                          + sum over the topic's terms found in the paper of
                            weight(topic, term) * (title_weight        if found in the title
                                                   + abstract_weight * occurrences in the abstract,
                                                                       at most abstract_count_cap
                                                   + keywords_weight   if in any ai_keyword)

Field weights and the cap come from `vars.topic_scoring`. Fitting is a softmax (multinomial
logistic) regression over the topics with soft targets (the labelled primary 1, each `also` topic
ALSO_TARGET, normalized), in two stages:

1. every (term, topic) pair may carry a weight, positive or negative. Terms are the expert
   candidates of `topics/candidates.csv` (topic, term), L2-penalized lightly
   (L2_CANDIDATE) for the topics they are listed under, and every word and two-word phrase of the
   train papers found in at least MIN_DF of them and at most MAX_DF_SHARE of them (not starting
   or ending with a STOPWORD), penalized more (L2_OPEN);
2. the pairs whose weight reached SELECT_AT_LEAST in absolute value are kept — except open-vocabulary
   terms starting with one of the COMMON_FIRST_TOKENS most frequent tokens, which would make most of
   a paper's tokens candidate matches in SQL, and expert pairs with a negative weight (a term listed
   for a topic never argues against it; a negative weight says "this word points away from this
   topic") — and refitted alone with the same penalties (again without expert pairs that turn
   negative).

The secondary rule is then chosen by 5-fold cross-validation on train (the whole two-stage fit
repeated per fold): of the grid's (margin, over-other) pairs whose topic-set precision reaches
PRECISION_FLOOR, the one with the best recall (the best F1 if none does). The fold of a paper is sha1(paper_id) mod 5.

Everything is deterministic: sorted vocabularies, a plain L-BFGS in numpy whose reductions do not
depend on BLAS threads, weights rounded to 3 decimals.

Text is tokenized as the SQL does (macros matching_tokens / singularize_token): NFC, accents
stripped, lower case, runs of a-z / 0-9, simple plural folding; a multi-word term matches its
tokens consecutively within one field.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import yaml
from scipy import sparse

from topics.evaluate import build_warehouse, labelled_papers, tokens

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = Path(__file__).with_name("candidates.csv")
SEEDS = REPO / "dbt_project" / "seeds"
DBT_PROJECT = REPO / "dbt_project" / "dbt_project.yml"
ALSO_TARGET = 0.4       # target mass of each `also` topic, relative to the primary's 1
L2_CANDIDATE = 0.01     # penalty on squared weights of the expert candidate pairs
L2_OPEN = 0.1           # ... of every other (term, topic) pair
MIN_DF = 3              # an open-vocabulary term is in at least this many train papers
MAX_DF_SHARE = 0.3      # ... and in at most this share of them
SELECT_AT_LEAST = 0.05  # |weight| of stage 1 a pair needs to be kept
COMMON_FIRST_TOKENS = 50
STOPWORDS = frozenset(
    "a an the of and or for to in on with by from at as is are be we our this that these it its via "
    "into using based than can which their not but also".split())
FOLDS = 5
MARGINS = (1.5, 2.0, 3.0, 4.0)
OVER_OTHER = (0.5, 1.0, 1.5, 2.0, 2.5)
PRECISION_FLOOR = 0.80  # the rule chosen: best recall at this cross-validated precision (else best F1)


def scoring_vars() -> dict[str, float]:
    return yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))["vars"]["topic_scoring"]


def read_candidates() -> list[tuple[str, str]]:
    """(topic, term as its space-joined tokens) of the expert candidate list."""
    with CANDIDATES.open(newline="", encoding="utf-8") as f:
        rows = [(r["topic"], " ".join(tokens(r["term"]))) for r in csv.DictReader(f)]
    return sorted({(topic, term) for topic, term in rows if term})


class Texts:
    """Per paper: the n-grams (n ≤ longest) of its title, its abstract with counts, its keywords."""

    def __init__(self, papers, longest: int):
        def grams(toks: list[str]) -> Counter:
            return Counter(" ".join(toks[i:i + n]) for n in range(1, longest + 1) for i in range(len(toks) - n + 1))

        self.papers = papers
        self.title = [set(grams(tokens(p.title))) for p in papers]
        self.abstract = [grams(tokens(p.summary)) for p in papers]
        self.keywords = [set().union(*(grams(tokens(k)) for k in p.ai_keywords)) if p.ai_keywords else set()
                         for p in papers]

    def subset(self, rows: list[int]) -> Texts:
        out = object.__new__(Texts)
        out.papers = [self.papers[r] for r in rows]
        out.title, out.abstract, out.keywords = ([lst[r] for r in rows] for lst in (self.title, self.abstract, self.keywords))
        return out

    def vocabulary(self, candidates: list[tuple[str, str]]) -> list[str]:
        """Candidate terms + words and two-word phrases within the document-frequency bounds."""
        df = Counter()
        for t, a, k in zip(self.title, self.abstract, self.keywords):
            df.update({g for g in t | a.keys() | k if g.count(" ") < 2})
        most = MAX_DF_SHARE * len(self.papers)
        open_terms = {g for g, c in df.items() if MIN_DF <= c <= most
                      and g.split()[0] not in STOPWORDS and g.split()[-1] not in STOPWORDS}
        return sorted(open_terms | {term for _, term in candidates})

    def features(self, terms: list[str], scoring: dict[str, float]) -> sparse.csr_matrix:
        """papers × terms: the points a term of weight 1 earns in each paper."""
        index = {t: j for j, t in enumerate(terms)}
        cap = scoring["abstract_count_cap"]
        data, rows, cols = [], [], []
        for r, (t, a, k) in enumerate(zip(self.title, self.abstract, self.keywords)):
            for g in sorted(t | a.keys() | k):
                j = index.get(g)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    data.append(scoring["title_weight"] * (g in t) + scoring["abstract_weight"] * min(a.get(g, 0), cap)
                                + scoring["keywords_weight"] * (g in k))
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(self.papers), len(terms)))


def soft_targets(papers, topics: list[str]) -> np.ndarray:
    ix = {t: i for i, t in enumerate(topics)}
    y = np.zeros((len(papers), len(topics)))
    for r, p in enumerate(papers):
        y[r, ix[p.primary]] = 1.0
        for t in p.topics - {p.primary}:
            y[r, ix[t]] = ALSO_TARGET
    return y / y.sum(axis=1, keepdims=True)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b))  # numpy's pairwise sum: the same result whatever the BLAS threads


def lbfgs(f, x0: np.ndarray, max_iter: int = 500, memory: int = 10, rtol: float = 1e-8) -> np.ndarray:
    """Minimize f (returns value, gradient) from x0: L-BFGS with a backtracking Armijo line search."""
    x = x0.copy()
    fx, g = f(x)
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(max_iter):
        q, alphas = g.copy(), []
        for s, y in reversed(steps):
            a = _dot(s, q) / _dot(y, s)
            alphas.append(a)
            q -= a * y
        if steps:
            s, y = steps[-1]
            q *= _dot(s, y) / _dot(y, y)
        for (s, y), a in zip(steps, reversed(alphas)):
            q += s * (a - _dot(y, q) / _dot(y, s))
        d = -q
        slope = _dot(g, d)
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps, d = [], -g
            slope = _dot(g, d)
        t = 1.0 if steps else min(1.0, 1.0 / max(float(np.sum(np.abs(g))), 1e-12))
        while True:
            x_new = x + t * d
            f_new, g_new = f(x_new)
            if f_new <= fx + 1e-4 * t * slope or t < 1e-10:
                break
            t *= 0.5
        s, y = x_new - x, g_new - g
        if _dot(s, y) > 1e-10:
            steps = [*steps, (s, y)][-memory:]
        done = abs(fx - f_new) < rtol * max(1.0, abs(f_new)) or float(np.max(np.abs(g_new))) < 1e-5
        x, fx, g = x_new, f_new, g_new
        if done:
            break
    return x


def fit(x: sparse.csr_matrix, y: np.ndarray, pairs: np.ndarray, l2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression whose weights are the given (term, topic) pairs (array of 2 columns) with
    per-pair L2 penalties; returns (weight per pair, base score per topic, centred)."""
    n, n_topics = y.shape
    pj, pk = pairs[:, 0], pairs[:, 1]
    xp = x.tocsc()[:, pj].tocsr()  # papers × pairs
    to_topic = sparse.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)), pk)), shape=(len(pairs), n_topics))
    m = len(pairs)

    def loss_and_gradient(theta):
        w, b = theta[:m], theta[m:]
        s = (xp.multiply(w) @ to_topic).toarray() + b
        s -= s.max(axis=1, keepdims=True)
        prob = np.exp(s)
        prob /= prob.sum(axis=1, keepdims=True)
        loss = -float(np.sum(y * np.log(prob + 1e-12))) / n + float(np.sum(l2 * w * w))
        g = (prob - y) / n
        grad_w = np.asarray(xp.multiply(g[:, pk]).sum(axis=0)).ravel() + 2 * l2 * w
        return loss, np.concatenate([grad_w, g.sum(axis=0)])

    theta = lbfgs(loss_and_gradient, np.zeros(m + n_topics))
    base = theta[m:]
    return theta[:m], base - base.mean()


def train(texts: Texts, topics: list[str], candidates: list[tuple[str, str]], scoring):
    """The two-stage fit on these papers: (terms, pairs, weights, base scores)."""
    terms = texts.vocabulary(candidates)
    term_ix, topic_ix = {t: j for j, t in enumerate(terms)}, {t: k for k, t in enumerate(topics)}
    expert = {(term_ix[term], topic_ix[topic]) for topic, term in candidates}
    x = texts.features(terms, scoring)
    y = soft_targets(texts.papers, topics)

    def penalties(pairs):
        return np.array([L2_CANDIDATE if (j, k) in expert else L2_OPEN for j, k in pairs])

    every = np.array([(j, k) for j in range(len(terms)) for k in range(len(topics))])
    weights, _ = fit(x, y, every, penalties(every))
    frequent = Counter()  # occurrences of each word in the abstracts
    for abstract in texts.abstract:
        frequent.update({g: c for g, c in abstract.items() if " " not in g})
    common = {tok for tok, _ in sorted(frequent.items(), key=lambda kv: (-kv[1], kv[0]))[:COMMON_FIRST_TOKENS]}
    kept = np.array([(j, k) for (j, k), w in zip(every, weights) if abs(w) >= SELECT_AT_LEAST
                     and ((j, k) in expert and w > 0 or (j, k) not in expert and terms[j].split()[0] not in common)])
    while True:  # an expert term never argues against its own topic: drop such pairs and refit
        weights, base = fit(x, y, kept, penalties(kept))
        against = np.array([(j, k) in expert and w < 0 for (j, k), w in zip(kept, weights)])
        if not against.any():
            return terms, kept, weights, base
        kept = kept[~against]


def decide(scores: np.ndarray, present: np.ndarray, other: int, margin: float, over_other: float) -> list[tuple[int, set[int]]]:
    """The SQL's rule per paper: (primary, assigned topics). Ties: first topic (the SQL breaks
    them by title points, terms, slug; exact ties are rare)."""
    out = []
    for s, found in zip(scores, present):
        s = np.where(found, s, -np.inf)
        primary = int(np.argmax(s))
        out.append((primary, {primary} | {k for k in range(len(s)) if k not in (primary, other) and found[k]
                                          and s[k] >= s[primary] - margin and s[k] >= s[other] + over_other}))
    return out


def predict_scores(texts: Texts, terms, pairs, weights, base, n_topics, scoring, other: int):
    x = texts.features(terms, scoring)
    w = sparse.csr_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(len(terms), n_topics))
    present = (abs(x) @ (w != 0).astype(float)).toarray() > 0
    present[:, other] = True
    return (x @ w).toarray() + base, present


def cross_validate(texts: Texts, topics, candidates, scoring):
    """Out-of-fold scores of every train paper (each fold fitted without it)."""
    n_topics, other = len(topics), topics.index("other")
    fold = np.array([int(hashlib.sha1(p.label_id.encode()).hexdigest(), 16) % FOLDS for p in texts.papers])
    scores, present = np.zeros((len(fold), n_topics)), np.zeros((len(fold), n_topics), dtype=bool)
    for k in range(FOLDS):
        inside, outside = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        terms, pairs, weights, base = train(texts.subset(list(inside)), topics, candidates, scoring)
        scores[outside], present[outside] = predict_scores(texts.subset(list(outside)), terms, pairs, weights, base,
                                                           n_topics, scoring, other)
    return scores, present


def rule_table(papers, topics, scores, present) -> list[tuple[float, float, float, float, float]]:
    """(margin, over_other, primary agreement, precision, recall) for the grid."""
    other, rows = topics.index("other"), []
    for margin in MARGINS:
        for over in OVER_OTHER:
            decided = decide(scores, present, other, margin, over)
            agree = sum(topics[pk] == p.primary for p, (pk, _) in zip(papers, decided))
            hits = sum(len(p.topics & {topics[k] for k in ks}) for p, (_, ks) in zip(papers, decided))
            predicted = sum(len(ks) for _, ks in decided)
            labelled = sum(len(p.topics) for p in papers)
            rows.append((margin, over, agree / len(papers), hits / predicted, hits / labelled))
    return rows


def write_seeds(terms, topics, pairs, weights, base) -> int:
    rows = sorted((topics[k], terms[j], round(float(w), 3)) for (j, k), w in zip(pairs, weights)
                  if round(float(w), 3) != 0)
    with (SEEDS / "topic_taxonomy.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["topic", "term", "weight"])
        out.writerows(rows)
        for topic in sorted(set(topics) - {t for t, _, _ in rows}):
            out.writerow([topic, "", ""])
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


def write_rule(margin: float, over_other: float) -> None:
    """Sets secondary_margin and secondary_over_other in dbt_project.yml (the rest kept as is)."""
    text = DBT_PROJECT.read_text(encoding="utf-8")
    for key, value in (("secondary_margin", margin), ("secondary_over_other", over_other)):
        text, n = re.subn(rf"(?m)^(\s+{key}: ).*$", rf"\g<1>{value}", text)
        if n != 1:
            raise RuntimeError(f"{DBT_PROJECT}: expected one `{key}:` line, found {n}")
    DBT_PROJECT.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m topics.train", description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, help="read the labelled papers from this warehouse instead of building one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="topic-train-") as tmp:
        warehouse = args.warehouse or build_warehouse(Path(tmp))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            train_papers = [p for p in labelled_papers(con) if p.split == "train"]
        finally:
            con.close()
    candidates = read_candidates()
    topics = sorted({t for t, _ in candidates} | {"other"})
    scoring = scoring_vars()
    texts = Texts(train_papers, max(2, *(term.count(" ") + 1 for _, term in candidates)))

    scores, present = cross_validate(texts, topics, candidates, scoring)
    table = rule_table(train_papers, topics, scores, present)
    precise = [r for r in table if r[3] >= PRECISION_FLOOR]
    best = max(precise, key=lambda r: (r[4], -r[0], -r[1])) if precise else \
        max(table, key=lambda r: (2 * r[3] * r[4] / (r[3] + r[4]), -r[0], -r[1]))
    print(f"{FOLDS}-fold cross-validation on {len(train_papers)} train papers (secondary rule: margin, over other):")
    for margin, over, agree, precision, recall in table:
        mark = "  <- chosen" if (margin, over) == best[:2] else ""
        print(f"  {margin:>4} {over:>4}  primary {agree:6.1%}  precision {precision:6.1%}  recall {recall:6.1%}{mark}")

    terms, pairs, weights, base = train(texts, topics, candidates, scoring)
    kept = write_seeds(terms, topics, pairs, weights, base)
    write_rule(best[0], best[1])
    print(f"fitted on {len(train_papers)} train papers: {kept} (topic, term) weights written to "
          f"{SEEDS / 'topic_taxonomy.csv'}; base scores to {SEEDS / 'topics.csv'}; secondary_margin {best[0]}, "
          f"secondary_over_other {best[1]} to {DBT_PROJECT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
