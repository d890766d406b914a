"""Lists of names in one-line messages."""

from __future__ import annotations

from collections.abc import Sequence


def first_names(names: Sequence[str], shown: int = 5) -> str:
    """The first `shown` of `names`, comma-separated, with ', ...' when there are more."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def word_list(words: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or another conjunction)."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
