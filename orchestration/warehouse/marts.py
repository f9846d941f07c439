"""The public marts: what analysts query, what is validated and what is published."""

PUBLIC_MARTS = (
    "papers", "paper_observations", "authors_count", "authors_daily", "authors", "paper_topics",
    "topics_daily", "topics_weekly",
)
