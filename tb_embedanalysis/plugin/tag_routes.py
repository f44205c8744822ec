"""The tags' routes: /tags (GET the embedding's tags; POST, guarded by plugin/writes.py, to
set them) and the two exports of tags /export answers (the tags table, and metadata.tsv with
the corrected labels as one more column).

Each is parse (params.py) → one `queries` function → respond, as in plugin.py, which
registers /tags beside its own routes and hands /export's tag kinds here; split out so
each module keeps one responsibility.
"""

from typing import Callable

from werkzeug import wrappers

from tb_embedanalysis import errors, exports, queries
from tb_embedanalysis.plugin import params, responses, writes
from tb_embedanalysis.plugin.hosts import AllowedHosts
from tb_embedanalysis.plugin.http_errors import json_errors
from tb_embedanalysis.tags import TagStore


class TagRoutes:
    """The routes above for one plugin: `workspace()` is its workspace, read at each request
    as its own routes read theirs; `embedding(request)` its run/embedding/step parsing and
    loading."""

    def __init__(self, workspace: Callable[[], queries.Workspace], hosts: AllowedHosts, embedding):
        self._workspace = workspace
        self._hosts = hosts
        self._embedding = embedding

    def routes(self) -> dict:
        """/tags as a WSGI app, failures answered by http_errors.json_errors (as map_routes.py's)."""
        guarded = json_errors(lambda _owner, request: self._serve_tags(request))
        return {"/tags": wrappers.Request.application(lambda request: guarded(None, request))}

    @property
    def _tags(self) -> TagStore:
        """The workspace's tag store: the plugin's always has one (the CLI's may not)."""
        tags = self._workspace().tags
        if tags is None:
            raise RuntimeError("the plugin's workspace has no tag store")
        return tags

    def table(self, request):
        """/export's what=tags: the embedding's tags as a table."""
        return queries.tags_table(self._tags, self._embedding(request), params.text(request, "label_column"))

    def export_metadata(self, request):
        """metadata.tsv with the corrected labels as one more column (what=metadata, or
        what=tags&format=metadata)."""
        body = queries.corrected_metadata(self._tags, self._embedding(request),
                                          params.text(request, "label_column"))
        filename = exports.filename(params.text(request, "embedding", default="embedding"), "metadata-corrected", "tsv")
        headers = [("Content-Disposition", 'attachment; filename="%s"' % filename)]
        return responses.bytes_response(request, body.encode("utf-8"), "text/tab-separated-values; charset=utf-8",
                                        headers=headers)

    def _serve_tags(self, request):
        """GET (and HEAD): the embedding's tags (never writes). POST (guarded, plugin/writes.py): set them."""
        if request.method in ("GET", "HEAD"):
            return responses.json_response(request, queries.tags(self._tags, self._embedding(request)))
        body = writes.json_body(request, self._hosts)  # 403 without the guard headers or from another origin
        if not isinstance(body, dict):
            raise errors.InvalidArgument("the body must be a JSON object")
        run, name, step = body.get("run"), body.get("embedding"), body.get("step")
        if not isinstance(run, str) or not run:
            raise errors.InvalidArgument("field 'run' must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise errors.InvalidArgument("field 'embedding' must be a non-empty string")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise errors.InvalidArgument("field 'step' must be an integer or null")
        embedding = self._workspace().load(run, name, step)
        return responses.json_response(request, queries.write_tags(self._tags, embedding, body))
