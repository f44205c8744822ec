"""Errors become JSON responses here, and only here.

Routes raise; `json_errors` turns every failure into `{"error": "..."}`, so that no request
ever answers with a traceback page and TensorBoard keeps serving:

* what the caller can fix (a parameter, a run, their logs: `QueryError`, `LogError`) → 4xx
  naming the parameter or file, logged at INFO in one line;
* anything else is a bug of ours → 500 with `{"error": ..., "id": ...}` (no traceback, no
  server path), and the traceback logged with the same id, so a user's report finds it.
  A bug is never a 4xx: the fuzz tests assert "no 500" and must be able to see one;
* the server shutting down while a job computes, or after the tag database was closed → 503.
"""

import functools
import logging

from werkzeug import exceptions as http_exceptions
from werkzeug import wrappers

from tb_embedanalysis import errors, queries
from tb_embedanalysis.logs import errors as log_errors
from tb_embedanalysis.plugin import responses
from tb_embedanalysis.tags import TagStoreClosed

logger = logging.getLogger(__name__)

_STATUS = (
    (TagStoreClosed, 503),  # TensorBoard is stopping: asking again after its restart works
    (errors.InvalidArgument, 400),
    (errors.NotFound, 404),
    (errors.Forbidden, 403),
    (errors.Unanalysable, 422),
    (log_errors.LogError, 422),  # the logs can't be read: the loader's message says why
)


def status_for(error: Exception) -> int:
    """The 4xx of an expected error (QueryError or LogError)."""
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 422


def error_body(error: Exception) -> dict:
    """The JSON body of an expected error: its message, plus its `details` (never replacing
    the message), e.g. the close spellings of an unknown word."""
    return {**getattr(error, "details", {}), "error": str(error)}


def bug_body(route: str, error_id: str) -> dict:
    """The JSON body of a 500: what failed, that it is not the caller's fault, and the id the
    server log repeats beside the traceback. Nothing from the exception itself: its message
    may hold server paths or file content."""
    return {"error": errors.bug_message("/" + route, error_id), "id": error_id}


def error_response(request: wrappers.Request, error: Exception):
    """The JSON response of an expected error (QueryError or LogError), logged in one line."""
    logger.info("embedanalysis: %s: %s", request.path, error)
    return responses.json_response(request, error_body(error), status=status_for(error))


def json_errors(route):
    """Decorator for a route method: exceptions → JSON with a 4xx, 500 or 503 (module doc)."""

    @functools.wraps(route)
    def wrapper(self, request: wrappers.Request):
        try:
            return route(self, request)
        except (errors.QueryError, log_errors.LogError) as error:
            # Expected: the user's request or logs. One line, no traceback.
            return error_response(request, error)
        except queries.Cancelled:
            return responses.json_response(request, {"error": "TensorBoard is shutting down"}, status=503)
        except http_exceptions.HTTPException as error:  # werkzeug's own, e.g. a client gone mid-body
            if error.code is not None and 400 <= error.code < 500:
                return responses.json_response(request, {"error": error.description or error.name},
                                               status=error.code)
            return _bug(request)
        except Exception:  # noqa: BLE001 - last line of defence, see module doc
            return _bug(request)

    return wrapper


def _bug(request):  # called only from the except clauses of json_errors
    """The 500 of the exception being handled; its traceback is logged under a new id."""
    error_id = errors.new_error_id()
    logger.exception("embedanalysis: %s failed [error id %s]", request.path, error_id)  # noqa: LOG004 - see _bug
    return responses.json_response(request, bug_body(request.path.rsplit("/", 1)[-1], error_id), status=500)
