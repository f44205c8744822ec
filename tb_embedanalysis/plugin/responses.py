"""The werkzeug responses the routes return (JSON through tb_embedanalysis.jsonable)."""

import json

from tensorboard.backend import http_util

from tb_embedanalysis.jsonable import to_jsonable

JSON = "application/json"


def json_response(request, payload, *, status=200, headers=None):
    body = json.dumps(to_jsonable(payload), ensure_ascii=False, separators=(",", ":"))
    return http_util.Respond(request, body, JSON + "; charset=utf-8", code=status, headers=headers)


def bytes_response(request, body: bytes, content_type: str, *, expires=0, headers=None):
    return http_util.Respond(request, body, content_type, expires=expires, headers=headers)
