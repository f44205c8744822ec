r"""Finding points by their metadata text: exact lookup for a typed word, close spellings
when it is unknown, regex (or plain-text) search.

Patterns come from users (and from anyone who can reach a shared TensorBoard), so both
compiling and matching must be bounded. We use RE2 (the `google-re2` wheel, maintained by
Google, wheels for Linux, macOS and Windows) rather than the `regex` package:

* RE2 matches in time linear in the text, so a catastrophic pattern like `(a+)+$` has no
  catastrophe to time out on.
* RE2 refuses counted repeats above 1000, nested ones multiplied, and stops compiling at
  `max_mem`. With `regex`, the 34 characters `((a{1000}){1000}){1000}` grew TensorBoard to
  22 GB (the `regex` timeout covers matching, not compiling), and every distinct
  `(b{1000}){1000}` kept ~140 MB in its pattern cache.

Measured (2 cores, Python 3.11, regex 2026.11.19, google-re2 1.1.20251105):

| | `regex` | RE2, max_mem 1 MB |
|---|---|---|
| compile `((a{1000}){1000}){1000}` | MemoryError after 6-12 s at a 3 GB cap | refused in 0.1 ms, +0 MB |
| compile `(b{1000}){1000}` | 0.7 s, ~140 MB kept in the cache | refused in 0.1 ms |
| compile `\pL{1000}` (largest program) | - | refused in 10 ms, peak +2 MB |
| 100k 3-20 character strings, 7 patterns | 0.17-0.28 s (with per-call timeout) | 0.19-0.35 s |
| a 10,000-character text, worst pattern tried | - | 0.12 s (`(.*a){1000}`) |
| real TensorBoard, 10 bomb patterns | 422 after 12 s (MemoryError), VmRSS 738 -> 1583 MB | each a 400 in 3-5 ms, VmRSS 738.2 -> 738.3 MB |

What RE2 gives up: backreferences and lookaround (such patterns are invalid for RE2 and,
like every invalid pattern, are searched as plain text), and `\w`, `\d`, `\b` are ASCII
(`\pL`, `\p{Greek}` match Unicode letters). Case-insensitive matching folds Unicode case.
"""

import difflib
import heapq
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import re2

# Per compiled pattern: the program plus its DFA cache. 1 MB keeps a refused compile at
# ~10 ms and +2 MB, and every pattern we tried that RE2 accepts at 8 MB but not at 1 MB
# was a {1000}-sized repeat of a Unicode class.
_MAX_MEM = 1 << 20
# RE2's messages (re2.cc) for a pattern that is valid syntax but too big to compile: these
# answer 400; any other error means "not a regex" and the text is searched literally.
_TOO_COSTLY = ("invalid repetition size", "pattern too large")


class SearchTimeout(ValueError):
    """The search took longer than allowed (queries answers 400)."""


class SearchTooCostly(SearchTimeout):
    """The pattern would cost too much memory to compile (queries answers 400)."""


def find_value(values: Sequence[str], text: str) -> List[int]:
    """Rows whose value equals `text` exactly; if none, case-insensitively. Row order."""
    exact = np.flatnonzero(_per_row(values, lambda value: value == text))
    if exact.size:
        return exact.tolist()
    folded = text.casefold()
    return np.flatnonzero(_per_row(values, lambda value: value.casefold() == folded)).tolist()


# Suggestions compare the typed word with at most this many distinct values by edit
# similarity (difflib is ~10 µs a pair: 20,000 pairs ≈ 0.2 s), chosen among those of about
# the same length; a prefix scan of every distinct value is cheaper (a str method each).
_SUGGEST_COMPARED = 20_000
_SUGGEST_CUTOFF = 0.75  # difflib ratio: "horor" ~ "horror" 0.91, "hitch" ~ "hatch" 0.8


def suggestions(values: Sequence[str], text: str, *, limit: int = 10) -> List[str]:
    """Up to `limit` distinct values close to `text`, for "did you mean …?" after a miss.

    First those most similar to `text` (difflib ratio ≥ 0.75, case-insensitive: a letter
    missing, wrong, doubled or swapped), then those starting with it, shortest first.
    Bounded: only values whose length is within a third of the text's (at least ±2) are
    compared, at most _SUGGEST_COMPARED of them (the first in row order).
    """
    folded = text.casefold()
    if not folded:
        return []
    # A compact column (logs.model.Column) lists its distinct values; any other sequence is deduplicated here.
    categories = getattr(values, "categories", None) if getattr(values, "codes", None) is not None else None
    distinct: Iterable[str] = categories if categories is not None else dict.fromkeys(values)
    slack = max(2, len(folded) // 3)
    candidates: Dict[str, str] = {}  # folded value → the first value spelled that way
    prefixed: List[str] = []
    for value in distinct:
        lowered = value.casefold()
        if lowered.startswith(folded) and lowered != folded:
            prefixed.append(value)
        if abs(len(lowered) - len(folded)) <= slack and len(candidates) < _SUGGEST_COMPARED:
            candidates.setdefault(lowered, value)
    close = [candidates[c] for c in difflib.get_close_matches(folded, list(candidates), n=limit, cutoff=_SUGGEST_CUTOFF)]
    shortest = heapq.nsmallest(limit, prefixed, key=lambda value: (len(value), value))
    return list(dict.fromkeys(close + shortest))[:limit]


def _per_row(values, test, deadline: float = float("inf")) -> np.ndarray:
    """(N,) bool: test(value) for every row. A compact column (`codes` into `categories`)
    is tested once per distinct value, so a million rows of ten labels cost ten tests."""
    compact = getattr(values, "codes", None)
    distinct = values.categories if compact is not None else values
    hits = np.zeros(len(distinct), dtype=bool)
    for start in range(0, len(distinct), 1024):
        if time.monotonic() >= deadline:
            raise TimeoutError
        hits[start:start + 1024] = [bool(test(value)) for value in distinct[start:start + 1024]]
    return hits[np.asarray(compact)] if compact is not None else hits


def _compile(pattern: str, *, literal: bool):
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = _MAX_MEM
    options.log_errors = False  # RE2 would print every refused user pattern to stderr
    options.literal = literal
    compiled = re2.compile(pattern, options)
    # re2.compile keeps the last 128 patterns in an lru_cache, each up to max_mem once its
    # DFA has grown: keep none, a search compiles its pattern once anyway.
    re2.purge()
    return compiled


def compile_pattern(pattern: str, *, literal: bool = False):
    """`pattern` as a case-insensitive RE2 regex, or as plain text if it is not a regex.

    literal=True: always plain text (what a search box sends unless regex is asked for).
    Raises SearchTooCostly when the pattern is a regex too big to compile.
    """
    if literal:
        return _compile(pattern, literal=True)
    try:
        return _compile(pattern, literal=False)
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if reason.startswith(_TOO_COSTLY):
            raise SearchTooCostly(
                "parameter 'q': search pattern %r is too costly to compile (%s); repeat counts "
                "are limited to 1000, nested repeats multiplied" % (pattern[:80], reason[:80])
            ) from None
    return _compile(pattern, literal=True)  # "c++", "(": searched as typed


def regex_error(pattern: str) -> Optional[str]:
    """Why `pattern` is not a regex RE2 accepts (RE2's words, e.g. "missing ): (abc"), so
    that a search can say it looked for the text as typed; None when it is a regex. A pattern
    too costly to compile raises SearchTooCostly, as the search itself would."""
    try:
        _compile(pattern, literal=False)
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if reason.startswith(_TOO_COSTLY):
            compile_pattern(pattern)  # raises SearchTooCostly with the parameter's name
        return reason or "not a regular expression"
    return None


def search(columns: Sequence[Sequence[str]], pattern: str, *, limit: int, literal: bool = False,
           time_budget: float = 1.0) -> Tuple[int, List[int]]:
    """Rows where any of `columns` matches `pattern` (case-insensitive regex; with
    literal=True, contains it as plain text: "^3$" finds those three characters).

    An invalid regex is searched as plain text, so typing "c++" or "(" just works.
    Returns (total matches, the first `limit` row indices). Raises SearchTooCostly for a
    pattern too big to compile, SearchTimeout when the search exceeds `time_budget` seconds
    (RE2 is linear, but a million long cells still take time).
    """
    compiled = compile_pattern(pattern, literal=literal)
    deadline = time.monotonic() + time_budget
    if not columns:
        return 0, []
    found = np.zeros(len(columns[0]), dtype=bool)
    try:
        for column in columns:
            found |= _per_row(column, lambda value: compiled.search(value) is not None, deadline)
    except TimeoutError:
        raise SearchTimeout(
            "parameter 'q': search pattern %r took longer than %.1f s; simplify it" % (pattern[:80], time_budget)
        ) from None
    rows = np.flatnonzero(found)
    return int(rows.size), rows[:limit].tolist()
