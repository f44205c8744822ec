"""Whether a metadata column is numeric, and its values as numbers: the map colours a
numeric column by a gradient from its exact minimum to its exact maximum.

A column is numeric when every value is a finite decimal number (Python's float syntax:
"3", "-0.25", "1e-3") or a missing value (MISSING: an empty cell, which the writer spells
"<empty>", or NaN), and at least one is a number. Values are parsed once per distinct value
(a compact column's categories), so a million rows of ten values cost ten parses.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np

MISSING = frozenset({"", "<empty>", "nan", "NaN", "NAN", "none", "None", "null", "NULL", "n/a", "N/A"})


def _number(text: str) -> Optional[float]:
    """float(text) when it is a finite decimal number, else None (inf, words, hex)."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def numeric_values(categories: Sequence[str]) -> Optional[List[Optional[float]]]:
    """Each distinct value as a float (None where missing), or None if the column is not
    numeric (a value that is neither a number nor missing, or no number at all)."""
    values: List[Optional[float]] = []
    found = False
    for text in categories:
        stripped = text.strip()
        if stripped in MISSING:
            values.append(None)
            continue
        value = _number(stripped)
        if value is None:
            return None
        values.append(value)
        found = True
    return values if found else None


def summary(categories: Sequence[str], codes: np.ndarray) -> Optional[dict]:
    """For a numeric column: {"values": float|None per category, "min", "max" (exact, over
    the rows that have a number), "missing": rows without one}; None otherwise."""
    values = numeric_values(categories)
    if values is None:
        return None
    numbers = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    present = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(values)) > 0
    used = numbers[present & ~np.isnan(numbers)]
    missing_codes = np.flatnonzero(np.isnan(numbers))
    missing = int(np.isin(np.asarray(codes), missing_codes).sum()) if missing_codes.size else 0
    return {"values": values, "min": float(used.min()) if used.size else None,
            "max": float(used.max()) if used.size else None, "missing": missing}
