"""The single exception a snapshot parser raises for content it cannot accept."""

from __future__ import annotations


class SnapshotRejected(Exception):
    """A snapshot whose content is not an accepted format.

    ``reason`` is a specific, human-readable sentence naming the problem; it is what the
    pipeline records next to the quarantined file.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason: str = reason

    def __str__(self) -> str:
        return self.reason


def preview(text: str, limit: int = 40) -> str:
    """``text`` on one line, cut to ``limit`` characters, for quoting in a reason."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
