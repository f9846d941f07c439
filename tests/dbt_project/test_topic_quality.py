"""Topic quality guard (issue 11): the marts are built on the 820 expert-labelled papers (the real
pipeline, `papers ingest` of the fixture, page-text and demo captures) and scored as
`make eval-topics` scores them. A taxonomy edit (seeds topic_taxonomy / topics, vars.topic_scoring)
that makes topics worse fails here.

FLOORS are the figures of the shipped taxonomy (`make train-topics`: fitted term weights, the
secondary rule chosen by cross-validation on train), minus 3 points. The issue's targets (held-back
split: primary 85 %, precision 80 % at recall 85 %) are NOT reached: primary agreement and recall
are short (README, "Topics"). Raise the floors as the taxonomy improves.
"""

from __future__ import annotations

import duckdb
import pytest

from topics.evaluate import build_warehouse, evaluate

# split -> (primary agreement, topic-set precision, recall), measured minus 0.03
FLOORS = {
    "train": (0.733 - 0.03, 0.847 - 0.03, 0.713 - 0.03),
    "holdout": (0.678 - 0.03, 0.842 - 0.03, 0.683 - 0.03),
}


pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.delenv("DAGSTER_HOME", raising=False)  # an ephemeral Dagster instance
        warehouse = build_warehouse(tmp_path_factory.mktemp("topic_quality_home"))
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield evaluate(con)
    finally:
        con.close()


@pytest.mark.parametrize("split", ["train", "holdout"])
def test_topics_agree_with_expert_labels(results, split):
    scores, pairs = results[split]
    assert scores.papers == {"train": 643, "holdout": 177}[split]
    primary, precision, recall = FLOORS[split]
    got = (round(scores.primary_agreement, 3), round(scores.precision, 3), round(scores.recall, 3))
    assert scores.primary_agreement >= primary, got
    assert scores.precision >= precision, got
    assert scores.recall >= recall, got


def test_every_primary_topic_is_explained(results):
    """A primary topic other than `other` always comes with its evidence and a score."""
    for _, pairs in results.values():
        for _, predicted in pairs:
            score, evidence = predicted.evidence[predicted.primary]
            assert score is not None
            if predicted.primary != "other":
                assert evidence
