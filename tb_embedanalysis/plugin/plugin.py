"""The Embedding Analysis plugin: every route is parse → one `queries` function → respond.

Parameters are parsed for syntax in plugin/params.py; every rule about them, and every
answer, comes from tb_embedanalysis.queries (which the CLI calls too). Failures are raised
and mapped to 4xx JSON in one place (plugin/http_errors.py). Expensive results answer 202
with progress until ready.
"""

import functools
import os
from typing import Optional

from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_embedanalysis import errors, exports, queries
from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB
from tb_embedanalysis.plugin import http_errors, params, responses
from tb_embedanalysis.plugin.hosts import AllowedHosts
from tb_embedanalysis.plugin.http_errors import json_errors
from tb_embedanalysis.plugin.map_routes import MapRoutes
from tb_embedanalysis.plugin.static import StaticFiles
from tb_embedanalysis.plugin.tag_routes import TagRoutes
from tb_embedanalysis.quoting import excerpt
from tb_embedanalysis.tags import TagStore

PLUGIN_NAME = "embedanalysis"


def shown_directory(directory: Optional[str]) -> Optional[str]:
    """How answers name the cache directory: under the home directory as ~/…, else by its
    flag; never an absolute server path (the server log has it)."""
    if directory is None:
        return None
    home = os.path.expanduser("~")
    absolute = os.path.abspath(directory)
    if home not in ("", "~", "/") and absolute.startswith(home.rstrip(os.sep) + os.sep):
        return "~" + absolute[len(home.rstrip(os.sep)):]
    return "the cache directory (--embedanalysis_cache_dir)"


class EmbedAnalysisPlugin(base_plugin.TBPlugin):
    plugin_name = PLUGIN_NAME

    def __init__(self, context, *, cache_dir: Optional[str] = None, max_memory_mb: float = 2048.0,
                 result_cache_mb: Optional[float] = None, disk_cache_mb: Optional[float] = None,
                 work_memory_mb: float = DEFAULT_WORK_MEMORY_MB, allowed_hosts: Optional[AllowedHosts] = None,
                 warm_maps: bool = False):
        """allowed_hosts: the names requests may use (plugin/hosts.py); default: addresses,
        localhost and this machine's name. warm_maps (the loader, i.e. TensorBoard): the exact
        search's kernel compiled or loaded in the background (analysis/kernel_warmup.py), and
        UMAP if an earlier start drew one (analysis/umap_warmup.py)."""
        self._hosts = allowed_hosts if allowed_hosts is not None else AllowedHosts.from_flags()
        self._workspace = queries.Workspace.open(
            context.logdir or "", cache_dir=cache_dir, max_memory_mb=max_memory_mb, result_cache_mb=result_cache_mb,
            disk_cache_mb=disk_cache_mb, work_memory_mb=work_memory_mb,
            tags=TagStore(cache_dir, shown=shown_directory(cache_dir)), warm_maps=warm_maps)
        self._static = StaticFiles()
        self._tag_routes = TagRoutes(lambda: self._workspace, self._hosts, self._embedding)

    # -- TensorBoard's plugin interface -----------------------------------------------
    def get_plugin_apps(self):
        routes = {
            "/runs": self._serve_runs,
            "/neighbors": self._serve_neighbors,
            "/search": self._serve_search,
            "/metadata": self._serve_metadata,
            "/clusters": self._serve_clusters,
            "/hard_examples": self._serve_hard_examples,
            "/thumbnail": self._serve_thumbnail,
            "/export": self._serve_export,
            "/compare": self._serve_compare,
            "/history": self._serve_history,
            **self._tag_routes.routes(),  # /tags (plugin/tag_routes.py)
            "/churn": self._serve_churn,
            "/aligned": self._serve_aligned,
            "/outliers": self._serve_outliers,
            "/duplicates": self._serve_duplicates,
            **MapRoutes(self._workspace, self._hosts).routes(),  # /projection, /custom_projection, /bookmarks…
        }
        # Every data route and write answers only requests for a name this server has
        # (DNS rebinding, plugin/hosts.py); static files are the same for everyone.
        apps = {route: self._only_our_hosts(app) for route, app in routes.items()}
        apps["/*"] = self._serve_static
        return apps

    def _only_our_hosts(self, app):
        """`app` behind the Host check: a 403 JSON naming the flag for a name not ours."""
        @functools.wraps(app)
        def checked(environ, start_response):
            try:
                self._hosts.check_host(environ.get("HTTP_HOST"))
            except errors.Forbidden as error:
                response = http_errors.error_response(wrappers.Request(environ), error)
                return response(environ, start_response)
            return app(environ, start_response)
        return checked

    def is_active(self):
        return self._workspace.catalog.is_active()

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Embedding Analysis")

    # -- parameters shared by the routes -----------------------------------------------
    def _embedding(self, request):
        return self._workspace.load(*params.embedding_address(request))

    @staticmethod
    def _analysis(request) -> dict:
        return {"k": params.integer(request, "k"), "metric": params.text(request, "metric"),
                "label_column": params.text(request, "label_column")}

    def _neighbors(self, request) -> dict:
        embedding = self._embedding(request)
        rows = params.row_ranges(request, "rows")
        if rows is not None:  # among a selection's rows alone (queries/subsets.py)
            answer = queries.subsets.neighbors(
                self._workspace.engine, embedding, rows=rows,
                index=params.integer(request, "index", required=True), k=params.integer(request, "k"),
                metric=params.text(request, "metric"), label_column=params.text(request, "label_column"))
        else:
            answer = queries.neighbors(
                self._workspace.engine, embedding, index=params.integer(request, "index"),
                query=params.text(request, "query"), column=params.text(request, "column"),
                k=params.integer(request, "k"), metric=params.text(request, "metric"),
                label_column=params.text(request, "label_column"))
        return queries.mark_still(self._workspace, embedding, answer)  # rows that barely moved

    def _clusters(self, request):
        rows = params.row_ranges(request, "rows")
        if rows is not None:  # a selection's rows alone (queries/subsets.py)
            return queries.subsets.clusters(self._workspace.engine, self._embedding(request), rows=rows,
                                            **self._analysis(request))
        return queries.clusters(self._workspace.engine, self._embedding(request), **self._analysis(request))

    def _hard_examples(self, request):
        rows = params.row_ranges(request, "rows")
        if rows is not None:  # the ranking restricted to a selection's rows (queries/subsets.py)
            return queries.subsets.hard_examples(
                self._workspace.engine, self._embedding(request), rows=rows, method=params.text(request, "method"),
                label=params.text(request, "label"), predicted=params.text(request, "predicted"),
                offset=params.integer(request, "offset"), limit=params.integer(request, "limit"),
                **self._analysis(request))
        return queries.ranked_examples(
            self._workspace, *params.series_address(request), step=params.integer(request, "step"),
            method=params.text(request, "method"), label=params.text(request, "label"),
            predicted=params.text(request, "predicted"), offset=params.integer(request, "offset"),
            limit=params.integer(request, "limit"), hide_tagged=params.text(request, "hide_tagged"),
            **self._analysis(request))

    @staticmethod
    def _json_or_pending(request, result):
        if isinstance(result, queries.Pending):
            return responses.pending_response(request, result)
        return responses.json_response(request, result)

    # -- routes ------------------------------------------------------------------------
    @wrappers.Request.application
    @json_errors
    def _serve_runs(self, request):
        return responses.json_response(request, queries.runs(self._workspace))

    @wrappers.Request.application
    @json_errors
    def _serve_neighbors(self, request):
        return responses.json_response(request, self._neighbors(request))

    @wrappers.Request.application
    @json_errors
    def _serve_metadata(self, request):
        embedding = self._embedding(request)
        return responses.json_response(request, queries.metadata_column(embedding, params.text(request, "column")))

    @wrappers.Request.application
    @json_errors
    def _serve_search(self, request):
        embedding = self._embedding(request)
        result = queries.search(embedding, params.text(request, "q", required=True),
                                column=params.text(request, "column"), limit=params.integer(request, "limit"),
                                literal=bool(params.boolean(request, "literal")))
        return responses.json_response(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_clusters(self, request):
        return self._json_or_pending(request, self._clusters(request))

    @wrappers.Request.application
    @json_errors
    def _serve_hard_examples(self, request):
        return self._json_or_pending(request, self._hard_examples(request))

    @wrappers.Request.application
    @json_errors
    def _serve_thumbnail(self, request):
        png = queries.thumbnail(self._workspace.store, self._embedding(request),
                                params.integer(request, "index", required=True))
        return responses.bytes_response(request, png, "image/png", expires=86400)

    @wrappers.Request.application
    @json_errors
    def _serve_export(self, request):
        what = queries.check_choice("what", params.text(request, "what"), exports.KINDS + ("metadata",))
        if what == "metadata" or (what == "tags" and params.text(request, "format") == "metadata"):
            return self._tag_routes.export_metadata(request)
        fmt = queries.check_choice("format", params.text(request, "format"), ("csv", "json"))
        producer = {"hard_examples": self._hard_examples, "neighbors": self._neighbors,
                    "clusters": self._clusters, "tags": self._tag_routes.table}[what]
        payload = producer(request)
        if isinstance(payload, queries.Pending):
            return self._json_or_pending(request, payload)
        body, content_type = exports.render(what, fmt, payload)
        filename = exports.filename(params.text(request, "embedding", default="embedding"), what, fmt)
        headers = [("Content-Disposition", 'attachment; filename="%s"' % filename)]
        return responses.bytes_response(request, body, content_type, headers=headers)

    @wrappers.Request.application
    @json_errors
    def _serve_compare(self, request):
        result = queries.compare(self._workspace, *params.series_address(request), **self._analysis(request))
        return self._json_or_pending(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_history(self, request):
        result = queries.history(self._workspace, *params.series_address(request),
                                 index=params.integer(request, "index"), step=params.integer(request, "step"),
                                 indices=params.integer_list(request, "indices"), **self._analysis(request))
        return self._json_or_pending(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_churn(self, request):
        result = queries.churn(self._workspace, *params.series_address(request),
                               step_a=params.integer(request, "step_a"), step_b=params.integer(request, "step_b"),
                               run_b=params.text(request, "run_b"), embedding_b=params.text(request, "embedding_b"),
                               limit=params.integer(request, "limit"), **self._analysis(request))
        return self._json_or_pending(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_aligned(self, request):
        result = queries.aligned(self._workspace, *params.series_address(request),
                                 step_a=params.integer(request, "step_a"), step_b=params.integer(request, "step_b"),
                                 method=params.text(request, "method"), limit=params.integer(request, "limit"))
        return self._json_or_pending(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_outliers(self, request):
        result = queries.outliers(self._workspace.engine, self._embedding(request), k=params.integer(request, "k"),
                                  metric=params.text(request, "metric"), offset=params.integer(request, "offset"),
                                  limit=params.integer(request, "limit"))
        return self._json_or_pending(request, result)

    @wrappers.Request.application
    @json_errors
    def _serve_duplicates(self, request):
        result = queries.duplicates(self._workspace.engine, self._embedding(request),
                                    threshold=params.number(request, "threshold"),
                                    split_column=params.text(request, "split_column"),
                                    metric=params.text(request, "metric"), offset=params.integer(request, "offset"),
                                    limit=params.integer(request, "limit"))
        return self._json_or_pending(request, result)

    # werkzeug's Request.application wraps methods too (the request is the last argument);
    # its annotation only describes plain functions.
    @wrappers.Request.application  # type: ignore[arg-type]
    def _serve_static(self, request):
        prefix = "/data/plugin/%s/" % PLUGIN_NAME
        name = request.path[len(prefix):] if request.path.startswith(prefix) else ""
        found = self._static.get(name)
        if found is None:
            return responses.json_response(request, {"error": "no such file: %s" % excerpt(name)}, status=404)
        body, content_type = found
        return responses.bytes_response(request, body, content_type)
