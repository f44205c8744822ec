"""Errors of a query (a route or a CLI command), by what the caller did wrong.

The plugin maps them to HTTP codes (plugin/http_errors.py), the CLI to exit codes; the
messages name the parameter and the value, so both can show them as they are.
"""


class QueryError(Exception):
    """Base class: the question cannot be answered as asked."""


class InvalidArgument(QueryError):
    """A missing or malformed parameter (HTTP 400)."""


class NotFound(QueryError):
    """An unknown run, embedding, step, index, label, column or query text (HTTP 404)."""


class Unanalysable(QueryError):
    """The data exists but cannot be analysed as asked (HTTP 422)."""
