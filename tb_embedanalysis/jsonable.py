"""Numpy → JSON in one place: routes, exports, reports and the CLI all go through here.

JSON has no NaN or Infinity (the browser's JSON.parse rejects the whole answer), so
non-finite numbers become null.
"""

import math
from typing import Optional

import numpy as np


def number(value) -> Optional[float]:
    """A JSON number: Python float, None for None / NaN / ±inf."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def to_jsonable(value):
    """Plain Python for json.dumps: numpy scalars/arrays unpacked, NaN/Inf → None."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iub":  # integers and booleans need no NaN check: tolist() is JSON
            return value.tolist()
        return to_jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return number(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
