"""Finding points by their metadata text: exact lookup for a typed word, regex search.

Regexes come from users (and from anyone who can reach a shared TensorBoard), so they run
under the `regex` package's per-call timeout: a catastrophic pattern like `(a+)+$` ends
with an error instead of holding a request thread forever. We chose `regex` over a
subprocess or hand-written pattern screening because it is a maintained drop-in for `re`
with timeouts built in.
"""

import time
from typing import List, Sequence, Tuple

import regex


class SearchTimeout(ValueError):
    """The pattern took longer than allowed."""


def find_value(values: Sequence[str], text: str) -> List[int]:
    """Rows whose value equals `text` exactly; if none, case-insensitively. Row order."""
    exact = [i for i, value in enumerate(values) if value == text]
    if exact:
        return exact
    folded = text.casefold()
    return [i for i, value in enumerate(values) if value.casefold() == folded]


def search(columns: Sequence[Sequence[str]], pattern: str, *, limit: int,
           time_budget: float = 1.0) -> Tuple[int, List[int]]:
    """Rows where any of `columns` matches `pattern` (case-insensitive regex).

    An invalid regex is searched as plain text, so typing "c++" or "(" just works.
    Returns (total matches, the first `limit` row indices). Raises SearchTimeout when the
    whole search exceeds `time_budget` seconds.
    """
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except regex.error:
        compiled = regex.compile(regex.escape(pattern), regex.IGNORECASE)
    deadline = time.monotonic() + time_budget
    n_rows = len(columns[0]) if columns else 0
    total, first = 0, []
    try:
        for row in range(n_rows):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if any(compiled.search(column[row], timeout=remaining) for column in columns):
                total += 1
                if len(first) < limit:
                    first.append(row)
    except TimeoutError:
        raise SearchTimeout(
            "search pattern %r took longer than %.1f s; simplify it" % (pattern[:80], time_budget)
        ) from None
    return total, first
