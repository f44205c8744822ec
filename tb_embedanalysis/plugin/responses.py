"""Numpy → JSON in one place, and the werkzeug responses the routes return."""

import json
import math

import numpy as np
from tensorboard.backend import http_util

JSON = "application/json"


def to_jsonable(value):
    """Plain Python for json.dumps: numpy scalars/arrays unpacked, NaN/Inf → None.

    JSON has no NaN; the browser's JSON.parse would reject the whole answer.
    """
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def json_response(request, payload, *, status=200, headers=None):
    body = json.dumps(to_jsonable(payload), ensure_ascii=False, separators=(",", ":"))
    return http_util.Respond(request, body, JSON + "; charset=utf-8", code=status, headers=headers)


def bytes_response(request, body: bytes, content_type: str, *, expires=0, headers=None):
    return http_util.Respond(request, body, content_type, expires=expires, headers=headers)
