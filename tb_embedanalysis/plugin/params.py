"""Query-parameter *syntax*: text, integers, booleans, each failing with a 400 that names the
parameter and the value it got. What values are allowed (k's range, metrics, limits) is a
rule of the question asked, and lives in tb_embedanalysis.queries."""

from typing import List, Literal, Optional, Tuple, overload

from tb_embedanalysis.errors import InvalidArgument as BadRequest
from tb_embedanalysis.quoting import excerpt

_MAX_TEXT = 1000  # longest text parameter we accept (query, regex, names)


# The overloads tell the type checker what the code does: required=True or a str default
# never gives None.
@overload
def text(request, name: str, *, required: Literal[True], default: Optional[str] = None) -> str: ...
@overload
def text(request, name: str, *, required: bool = False, default: str) -> str: ...
@overload
def text(request, name: str, *, required: bool = False, default: None = None) -> Optional[str]: ...
def text(request, name: str, *, required: bool = False, default: Optional[str] = None) -> Optional[str]:
    value = request.args.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("missing required parameter %r" % name)
        return default
    if len(value) > _MAX_TEXT:
        raise BadRequest("parameter %r is too long (%d characters, at most %d)" % (name, len(value), _MAX_TEXT))
    return value


@overload
def integer(request, name: str, *, required: Literal[True]) -> int: ...
@overload
def integer(request, name: str, *, required: bool = False) -> Optional[int]: ...
def integer(request, name: str, *, required: bool = False) -> Optional[int]:
    raw = text(request, name, required=required)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise BadRequest("parameter %r must be an integer, got %s" % (name, excerpt(raw))) from None


def series_address(request) -> Tuple[str, str]:
    """The series a request names: run and embedding, both required."""
    return text(request, "run", required=True), text(request, "embedding", required=True)


def embedding_address(request) -> Tuple[str, str, Optional[int]]:
    """The embedding a request names: its series and step (None: the latest)."""
    return (*series_address(request), integer(request, "step"))


def boolean(request, name: str) -> Optional[bool]:
    """`literal=1|true|yes|on` → True, `0|false|no|off` → False, absent → None."""
    raw = text(request, name)
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequest("parameter %r must be true or false, got %s" % (name, excerpt(raw)))


def number(request, name: str) -> Optional[float]:
    """A finite decimal number (`threshold=0.05`, `1e-3`); absent → None."""
    raw = text(request, name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise BadRequest("parameter %r must be a number, got %s" % (name, excerpt(raw))) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRequest("parameter %r must be a finite number, got %s" % (name, excerpt(raw)))
    return value


_MAX_LIST = 10_000  # longest comma-separated list of integers we parse (≈ 1,000 row numbers)


def integer_list(request, name: str) -> Optional[List[int]]:
    """`indices=1,5,9` → [1, 5, 9] (repeats dropped, order kept); absent → None."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > _MAX_LIST:
        raise BadRequest("parameter %r is too long (%d characters, at most %d)" % (name, len(value), _MAX_LIST))
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise BadRequest("parameter %r must be comma-separated integers, got %s" % (name, excerpt(value))) from None
    return list(dict.fromkeys(numbers))


_MAX_ROWS = 48_000  # the tab's GET stays under 64 KB (http.server's request-line limit)


def row_ranges(request, name: str) -> Optional[List[Tuple[int, int]]]:
    """`rows=3,5,10-19` → [(3, 3), (5, 5), (10, 19)] (inclusive ranges, as written); absent
    → None. Syntax only: which rows exist is the question's rule (queries/subsets.py)."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > _MAX_ROWS:
        raise BadRequest("parameter %r is too long (%d characters, at most %d)" % (name, len(value), _MAX_ROWS))
    ranges = []
    for part in value.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise BadRequest("parameter %r must be row numbers and ranges like 3,5,10-19, got %s"
                             % (name, excerpt(part))) from None
        if low < 0 or high < low:
            raise BadRequest("parameter %r: %s is not a row number or an ascending range" % (name, excerpt(part)))
        ranges.append((low, high))
    return ranges
