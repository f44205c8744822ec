"""Query-parameter parsing: every check a route needs, each failing with a 400 that names
the parameter and the value it got."""

import math
from typing import Optional, Sequence

from tb_embedanalysis.errors import InvalidArgument as BadRequest

_MAX_TEXT = 1000  # longest text parameter we accept (query, regex, names)


def text(request, name: str, *, required: bool = False, default: Optional[str] = None) -> Optional[str]:
    value = request.args.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("missing required parameter %r" % name)
        return default
    if len(value) > _MAX_TEXT:
        raise BadRequest("parameter %r is too long (%d characters, at most %d)" % (name, len(value), _MAX_TEXT))
    return value


def integer(request, name: str, *, default: Optional[int] = None, minimum: Optional[int] = None,
            maximum: Optional[int] = None, required: bool = False) -> Optional[int]:
    raw = text(request, name, required=required)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest("parameter %r must be an integer, got %r" % (name, raw[:50])) from None
    if minimum is not None and value < minimum:
        raise BadRequest("parameter %r must be at least %d, got %d" % (name, minimum, value))
    if maximum is not None and value > maximum:
        raise BadRequest("parameter %r must be at most %d, got %d" % (name, maximum, value))
    return value


def choice(request, name: str, choices: Sequence[str], *, default: str) -> str:
    value = text(request, name, default=default)
    if value not in choices:
        raise BadRequest("parameter %r must be one of %s, got %r" % (name, ", ".join(choices), value[:50]))
    return value


def boolean(request, name: str) -> Optional[bool]:
    """`exact=1|true|yes` → True, `0|false|no` → False, absent → None (let the engine decide)."""
    raw = text(request, name)
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequest("parameter %r must be true or false, got %r" % (name, raw[:50]))


def neighbour_count(request, n_points: int, *, default: int = 10) -> int:
    """k, bounded by 1 ≤ k ≤ min(1000, N − 1)."""
    upper = max(1, min(1000, n_points - 1))
    return integer(request, "k", default=min(default, upper), minimum=1, maximum=upper)


def finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None
