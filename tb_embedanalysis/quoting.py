"""Untrusted text in messages and on terminals: short, escaped, never raw.

Messages quote what they got (a TSV cell, a parameter, a metadata header, a config path) so
the user can find it, but that text comes from files and requests anyone may write: a
16 MiB cell of NUL bytes quoted whole made a 67 MB error and 84 MB /runs bodies (issue 23),
and a tensor name holding ``ESC ] 0 ; … BEL`` retitles the terminal that prints it.

* `excerpt(value)`: a value quoted for a message, repr-style (every control, format or
  invisible character escaped), at most ~EXCERPT_CHARS characters, its length said when cut.
* `clipped(text)`: another library's message (Pillow, protobuf, TensorFlow), which may
  quote the file itself, bounded and escaped the same way but not quoted.
* `printable(text)`: what the CLI writes, with terminal control characters escaped and
  nothing else changed.
"""

import re

EXCERPT_CHARS = 80
CLIPPED_CHARS = 300


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """`value` quoted as repr() quotes a str, with at most `limit` characters inside the
    quotes (escapes count), and when cut its length after an ellipsis:
    ``'\\x00\\x00…\\x00'… (16,777,216 characters)``. Bytes are shown as UTF-8 text,
    undecodable bytes as U+FFFD. Never longer than about `limit` + 30 characters.
    """
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:4 * limit]).decode("utf-8", errors="replace")
        whole, total, unit = len(value) <= 4 * limit, len(value), "bytes"
    else:
        text = value if isinstance(value, str) else _text_of(value)
        whole, total, unit = True, len(text), "characters"
    shown = _fit(text[:limit], limit)
    quoted = repr(shown)
    if not whole or len(shown) < len(text):
        quoted += "… (%s %s)" % (format(total, ","), unit)
    return quoted


def clipped(text: str, limit: int = CLIPPED_CHARS) -> str:
    """`text` (a message, not a value) with control characters escaped and cut to about
    `limit` characters, ending with '…' when cut."""
    text = str(text).strip()
    shown = printable(text[:limit].replace("\n", " ").replace("\t", " "))[:limit]  # escapes count
    return shown + "…" if len(text) > limit or len(shown) < len(text[:limit]) else shown


# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI to some
# terminals); a carriage return only where it does not end a line (CSV's \r\n stays).
_CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every terminal control character written as ``\\uXXXX``: harmless on a
    terminal, readable, and inside a JSON string the very escape JSON itself uses (so the
    CLI's JSON output still parses to the same values)."""
    return _CONTROL.sub(lambda match: "\\u%04x" % ord(match.group()), text)


def _text_of(value) -> str:
    try:
        return str(value)
    except ValueError:  # an int of more than 4,300 digits (Python's limit on converting them)
        return "<%s too long to show>" % type(value).__name__


def _fit(text: str, limit: int) -> str:
    """The longest prefix of `text` whose repr() has at most `limit` characters inside the quotes."""
    if len(repr(text)) <= limit + 2:
        return text
    low, high = 0, len(text)
    while low < high:  # repr grows with the prefix: bisect on it
        middle = (low + high + 1) // 2
        if len(repr(text[:middle])) <= limit + 2:
            low = middle
        else:
            high = middle - 1
    return text[:low]
