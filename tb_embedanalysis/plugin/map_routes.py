"""The map's routes (what people know from the Projector): /projection with its settings
(2-D or 3-D, PCA components, t-SNE and UMAP parameters), /projection_settings (their
defaults and bounds), /custom_projection (axes between two queries) and /bookmarks.

Each route is parse (params.py) → one `queries` function → respond, as in plugin.py, which
registers these beside its own; split out so each module keeps one responsibility.
"""

import json

import numpy as np
from werkzeug import wrappers

from tb_embedanalysis import errors, queries
from tb_embedanalysis.bookmarks import BookmarkStore
from tb_embedanalysis.plugin import params, responses, writes
from tb_embedanalysis.plugin.hosts import AllowedHosts
from tb_embedanalysis.plugin.http_errors import json_errors
from tb_embedanalysis.queries import bookmarks as bookmark_queries, maps


def _coords_response(request, coords: np.ndarray, method: str, info: dict):
    """float32 little-endian (N, d) coordinates; shape, method and the JSON `info` in headers."""
    coords = np.ascontiguousarray(coords, dtype="<f4")
    headers = [("X-Projection-Shape", "%d,%d" % coords.shape), ("X-Projection-Method", method),
               ("X-Projection-Info", json.dumps(info, ensure_ascii=True, separators=(",", ":")))]
    return responses.bytes_response(request, coords.tobytes(), "application/octet-stream", headers=headers)


def _app(handler):
    """handler(request) → response as a WSGI app, failures answered by http_errors.json_errors
    (the decorator plugin.py's methods wear)."""
    guarded = json_errors(lambda _owner, request: handler(request))
    return wrappers.Request.application(lambda request: guarded(None, request))


class MapRoutes:
    """The routes above for one plugin's workspace (`routes()`: path → WSGI app)."""

    def __init__(self, workspace: queries.Workspace, hosts: AllowedHosts):
        self._workspace = workspace
        self._hosts = hosts

    def routes(self) -> dict:
        handlers = {"/projection": self._serve_projection, "/projection_settings": self._serve_settings,
                    "/custom_projection": self._serve_custom, "/bookmarks": self._serve_bookmarks}
        return {path: _app(handler) for path, handler in handlers.items()}

    def _embedding(self, request):
        return self._workspace.load(*params.embedding_address(request))

    def _serve_projection(self, request):
        fmt = queries.check_choice("format", params.text(request, "format"), ("bin", "json"))
        method = queries.check_choice("method", params.text(request, "method"), tuple(maps.PROJECTIONS))
        settings = maps.check_settings(
            method, dims=params.integer(request, "dims"), components=params.integer_list(request, "components"),
            perplexity=params.number(request, "perplexity"), learning_rate=params.text(request, "learning_rate"),
            n_neighbors=params.integer(request, "n_neighbors"), min_dist=params.number(request, "min_dist"),
            n_epochs=params.integer(request, "n_epochs"))
        result = maps.projection(self._workspace.engine, self._embedding(request), method=method, settings=settings)
        if isinstance(result, queries.Pending):
            return responses.pending_response(request, result)
        info: dict = {"settings": settings.key(method)}
        if result.variance is not None:
            info["variance"] = [round(float(v), 6) for v in result.variance]
        if fmt == "json":
            return responses.json_response(request, dict(queries.projection_json(result), **info))
        return _coords_response(request, result.coords, result.method, info)

    def _serve_settings(self, request):
        return responses.json_response(request, maps.settings_json())

    def _serve_custom(self, request):
        fmt = queries.check_choice("format", params.text(request, "format"), ("bin", "json"))
        result = maps.custom_projection(
            self._workspace.engine, self._embedding(request), left=params.text(request, "left"),
            right=params.text(request, "right"), down=params.text(request, "down"), up=params.text(request, "up"),
            column=params.text(request, "column"), match=params.text(request, "match"))
        if isinstance(result, queries.Pending):
            return responses.pending_response(request, result)
        info = {"cosine": round(result["cosine"], 6), "y_from": result["y_from"], "matched": result["matched"]}
        if fmt == "json":
            coords = np.round(result["coords"].astype(np.float64), 5)
            return responses.json_response(request, dict(info, method="custom", n=int(coords.shape[0]), coords=coords))
        return _coords_response(request, result["coords"], "custom", info)

    def _serve_bookmarks(self, request):
        """GET: the embedding's bookmarks. POST (guarded, writes.py): save or delete one."""
        tags = self._workspace.tags
        if tags is None:
            raise RuntimeError("the plugin's workspace has no tag store")
        store = BookmarkStore(tags)
        if request.method in ("GET", "HEAD"):
            asked = params.series_address(request)
            self._workspace.catalog.series(*asked)  # 404 for an unknown run or embedding
            return responses.json_response(request, bookmark_queries.bookmarks(store, *asked))
        body = writes.json_body(request, self._hosts)
        if not isinstance(body, dict):
            raise errors.InvalidArgument("the body must be a JSON object")
        run, embedding = body.get("run"), body.get("embedding")
        if not isinstance(run, str) or not run:
            raise errors.InvalidArgument("field 'run' must be a non-empty string")
        if not isinstance(embedding, str) or not embedding:
            raise errors.InvalidArgument("field 'embedding' must be a non-empty string")
        self._workspace.catalog.series(run, embedding)
        return responses.json_response(request, bookmark_queries.write_bookmark(store, run, embedding, body))
