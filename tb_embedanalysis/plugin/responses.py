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


def pending_response(request, result):
    """202 for a computation still running (reports.Pending): its own progress and message,
    the computation it waits on now (`task`, `task_progress`, `task_message`, `eta_seconds`)
    and, for /clusters and /hard_examples, the sample's `estimate`; for /projection, UMAP's
    layout so far as `preview` (http_api.md)."""
    body = {"status": "running", "progress": result.progress, "message": result.message}
    if result.task is not None:  # the computation waited on now
        body.update(task=result.task, task_progress=result.task_progress, task_message=result.task_message,
                    eta_seconds=result.eta_seconds)
    if result.estimate is not None:  # a first answer, marked as an estimate (queries/quick.py)
        body["estimate"] = result.estimate
    if result.preview is not None:  # a map's layout in progress (queries/maps.py preview_json)
        body["preview"] = result.preview
    return json_response(request, body, status=202)
