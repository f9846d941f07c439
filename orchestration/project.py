"""Facts of the project itself (not of a deployment): where its parts live, the public marts, the
first listing date. Settings that differ per deployment live in :mod:`orchestration.config`."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

#: The first day the Daily Papers listing exists.
FIRST_LISTING_DATE = "2023-05-04"

#: The public marts: what analysts query, what is validated and what is published.
PUBLIC_MARTS = (
    "papers", "paper_observations", "authors_count", "authors_daily", "authors", "paper_topics",
    "topics_daily", "topics_weekly",
)
