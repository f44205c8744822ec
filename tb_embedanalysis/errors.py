"""Errors of a query (a route or a CLI command), by what the caller did wrong.

The plugin maps them to HTTP codes (plugin/http_errors.py), the CLI to exit codes; the
messages name the parameter and the value, so both can show them as they are.

Anything else raised is a bug of ours, not the caller's doing: the plugin answers 500 and
the CLI exits 1, each with an id (`new_error_id`) that the logged traceback repeats.
"""

import secrets
from typing import Any, Dict, Optional


class QueryError(Exception):
    """Base class: the question cannot be answered as asked.

    `details`: JSON-ready facts that help the caller go on (e.g. ``{"suggestions": [...]}``
    for an unknown word); the plugin adds them to the error's JSON body, the CLI ignores them.
    """

    def __init__(self, message: str, *, details: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.details = dict(details or {})


class InvalidArgument(QueryError):
    """A missing or malformed parameter (HTTP 400)."""


class NotFound(QueryError):
    """An unknown run, embedding, step, index, label, column or query text (HTTP 404)."""


class Unanalysable(QueryError):
    """The data exists but cannot be analysed as asked (HTTP 422)."""


class Forbidden(QueryError):
    """A request the plugin refuses to act on as sent, e.g. a write without its guard header (HTTP 403)."""


def new_error_id() -> str:
    """A short random id tying a bug's answer (HTTP 500, CLI exit 1, a /runs entry) to the
    traceback logged with it."""
    return secrets.token_hex(4)


#: In every message about a bug (tests look for it in answers that must hold none).
BUG = "a bug in tb-embedanalysis"


def bug_message(what: str, error_id: str) -> str:
    """What a user is told of a bug: which answer failed, whose fault it is, where to look."""
    return ("%s failed because of %s, not a problem with your request or logs; the server log has the "
            "details under error id %s" % (what, BUG, error_id))
