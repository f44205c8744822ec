"""Errors become 4xx JSON responses here, and only here.

Routes raise; `json_errors` turns every failure into `{"error": "..."}` with a 4xx code,
so that no request ever answers with a 500 or a traceback page and TensorBoard keeps serving.
"""

import functools
import logging

from werkzeug import wrappers

from tb_embedanalysis import errors
from tb_embedanalysis.logs import errors as log_errors
from tb_embedanalysis.plugin import responses

logger = logging.getLogger(__name__)

_STATUS = (
    (errors.InvalidArgument, 400),
    (errors.NotFound, 404),
    (errors.Forbidden, 403),
    (errors.Unanalysable, 422),
    (log_errors.LogError, 422),  # the logs can't be read: the loader's message says why
)


def status_for(error: Exception) -> int:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 422


def error_body(error: Exception) -> dict:
    """The JSON body of an expected error: its message, plus its `details` (never replacing
    the message), e.g. the close spellings of an unknown word."""
    return {**getattr(error, "details", {}), "error": str(error)}


def json_errors(route):
    """Decorator for a route method: exceptions → 4xx JSON with the message."""

    @functools.wraps(route)
    def wrapper(self, request: wrappers.Request):
        try:
            return route(self, request)
        except (errors.QueryError, log_errors.LogError) as error:
            # Expected: the user's request or logs. One line, no traceback.
            logger.info("embedanalysis: %s: %s", request.path, error)
            return responses.json_response(request, error_body(error), status=status_for(error))
        except Exception:  # last line of defence, see module doc (logged with its traceback)
            # A bug of ours: not the user's bad input (so no 400), and it must not take the
            # tab down. The traceback goes to the log; the answer says what failed, in words,
            # without internals (messages of unexpected errors may hold server paths).
            logger.exception("embedanalysis: %s failed", request.path)
            what = request.path.rsplit("/", 1)[-1]
            message = "%s failed because of an internal error; the TensorBoard log has the details" % what
            return responses.json_response(request, {"error": message}, status=422)

    return wrapper
