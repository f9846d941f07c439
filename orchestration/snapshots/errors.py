"""The single exception a snapshot parser raises for content it cannot accept."""

from __future__ import annotations


class SnapshotRejected(Exception):
    """A snapshot not accepted; ``reason``, a sentence naming the problem, is recorded next to the
    quarantined file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason: str = reason


def preview(text: str, limit: int = 40) -> str:
    """``text`` on one line, cut to ``limit`` characters, control characters escaped, for quoting
    in a reason (a reason never carries more of a file than this)."""
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, shortened for a reason ("" when it has none)."""
    text = str(error).strip()
    return preview(text.splitlines()[0], 120) if text else ""


def unparsable(error: BaseException) -> SnapshotRejected:
    """The rejection of a file whose parsing raised something other than a rejection."""
    detail = first_line(error)
    return SnapshotRejected(f"could not be parsed ({type(error).__name__}" + (f": {detail})" if detail else ")"))
