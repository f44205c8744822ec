"""Errors of a query (a route or a CLI command), by what the caller did wrong.

The plugin maps them to HTTP codes (plugin/http_errors.py), the CLI to exit codes; the
messages name the parameter and the value, so both can show them as they are.
"""

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
