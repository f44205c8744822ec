"""The Embedding Analysis plugin: thin routes over `queries`, the store and the engine.

Each route reads and validates its parameters (plugin/params.py), calls one function, and
returns JSON (plugin/responses.py). Failures are raised and mapped to 4xx JSON in one
place (plugin/http_errors.py). Expensive results answer 202 with progress until ready.
"""

from typing import Optional

import numpy as np
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_embedanalysis import queries
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending
from tb_embedanalysis.catalog import Catalog
from tb_embedanalysis.errors import NotFound, QueryError
from tb_embedanalysis.logs import EmbeddingStore
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.plugin import exports, params, responses
from tb_embedanalysis.plugin.http_errors import json_errors
from tb_embedanalysis.plugin.static import StaticFiles

PLUGIN_NAME = "embedanalysis"
MAX_LIMIT = 1000


class EmbedAnalysisPlugin(base_plugin.TBPlugin):
    plugin_name = PLUGIN_NAME

    def __init__(self, context, *, cache_dir: Optional[str] = None, max_memory_mb: float = 2048.0):
        self._catalog = Catalog(context.logdir or "")
        self._store = EmbeddingStore(max_memory_mb=max_memory_mb)
        self._engine = AnalysisEngine(cache_dir=cache_dir)
        self._static = StaticFiles()

    # -- TensorBoard's plugin interface -----------------------------------------------
    def get_plugin_apps(self):
        return {
            "/runs": self._serve_runs,
            "/neighbors": self._serve_neighbors,
            "/search": self._serve_search,
            "/metadata": self._serve_metadata,
            "/clusters": self._serve_clusters,
            "/hard_examples": self._serve_hard_examples,
            "/projection": self._serve_projection,
            "/thumbnail": self._serve_thumbnail,
            "/export": self._serve_export,
            "/compare": self._serve_compare,
            "/*": self._serve_static,
        }

    def is_active(self):
        return self._catalog.is_active()

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Embedding Analysis")

    # -- parameters shared by the routes -----------------------------------------------
    def _embedding(self, request) -> Embedding:
        run = params.text(request, "run", required=True)
        name = params.text(request, "embedding", required=True)
        return self._load_current(run, name, params.integer(request, "step"))

    def _load_current(self, run: str, name: str, step: Optional[int]) -> Embedding:
        """The embedding at `step` (None: latest) as the logdir holds it now.

        Training may delete or add files between discovery and loading (max_to_keep deletes
        old checkpoints; the first checkpoint read imports TensorFlow, which takes seconds):
        when loading fails, look at the logdir again. A step that is gone is a 404 saying
        so; a "latest" that moved is loaded instead; an unchanged ref keeps its error.
        """
        ref = self._catalog.ref(run, name, step)
        for _ in range(2):
            try:
                return self._store.load(ref)
            except LogError:
                current = self._catalog.ref(run, name, step, check_now=True)
                if current == ref:
                    raise
                ref = current
        return self._store.load(ref)

    @staticmethod
    def _analysis_args(request) -> dict:
        # k's upper bound depends on N; queries.check_k enforces it with the embedding at hand.
        return {
            "k": params.integer(request, "k", default=10, minimum=1, maximum=queries.MAX_K),
            "metric": params.choice(request, "metric", queries.METRICS, default="cosine"),
        }

    def _neighbors(self, request, embedding=None) -> dict:
        embedding = embedding or self._embedding(request)
        return queries.neighbors(
            self._engine, embedding, index=params.integer(request, "index"),
            query=params.text(request, "query"), column=params.text(request, "column"),
            exact=params.boolean(request, "exact"), **self._clamped_k(request, embedding),
        )

    def _clusters(self, request, embedding=None):
        embedding = embedding or self._embedding(request)
        return queries.clusters(self._engine, embedding, label_column=params.text(request, "label_column"),
                                **self._clamped_k(request, embedding))

    def _hard_examples(self, request, embedding=None):
        embedding = embedding or self._embedding(request)
        return queries.hard_examples(
            self._engine, embedding, label_column=params.text(request, "label_column"),
            method=params.text(request, "method"), label=params.text(request, "label"),
            predicted=params.text(request, "predicted"),
            offset=params.integer(request, "offset", default=0, minimum=0, maximum=10**9),
            limit=params.integer(request, "limit", default=50, minimum=1, maximum=MAX_LIMIT),
            **self._clamped_k(request, embedding),
        )

    def _clamped_k(self, request, embedding) -> dict:
        """The default k=10 shrinks for tiny embeddings; an explicit k is checked as given."""
        args = self._analysis_args(request)
        if request.args.get("k") in (None, ""):
            args["k"] = max(1, min(args["k"], queries.valid_count(embedding) - 1))
        return args

    @staticmethod
    def _json_or_pending(request, result):
        if isinstance(result, Pending):
            body = {"status": "running", "progress": result.progress, "message": result.message}
            return responses.json_response(request, body, status=202)
        return responses.json_response(request, result)

    # -- routes ------------------------------------------------------------------------
    @wrappers.Request.application
    @json_errors
    def _serve_runs(self, request):
        runs, problems = [], []
        for info in self._catalog.runs():
            runs.append({"run": info.run, "embeddings": [self._describe(series) for series in info.series]})
            problems.extend({"run": p.run, "config": p.config_path, "error": p.message} for p in info.problems)
        return responses.json_response(request, {"runs": runs, "problems": problems})

    def _describe(self, series) -> dict:
        entry = {"name": series.name, "step": series.refs[-1].step, "steps": list(series.steps), "shape": None,
                 "columns": [], "label_column": None, "has_sprite": False, "thumbnail_size": None,
                 "nonfinite_rows": 0, "warnings": [], "error": None}
        try:
            embedding = self._load_current(series.run, series.name, None)
        except (QueryError, LogError, OSError, ValueError) as error:  # listed with its error, never dropped
            entry["error"] = str(error)
            return entry
        if embedding.ref != series.refs[-1]:  # training moved on while we loaded: list what we show
            try:
                entry["steps"] = list(self._catalog.series(series.run, series.name).steps)
            except QueryError:
                pass
            entry["step"] = embedding.ref.step
            if embedding.ref.step not in entry["steps"]:
                entry["steps"].append(embedding.ref.step)
        entry.update(
            shape=list(embedding.shape),
            columns=list(embedding.metadata.columns) if embedding.metadata else [],
            label_column=embedding.label_column,
            has_sprite=embedding.sprite is not None,
            thumbnail_size=list(embedding.sprite.thumbnail_size) if embedding.sprite else None,
            nonfinite_rows=embedding.nonfinite_rows,
            warnings=list(embedding.warnings),
        )
        return entry

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
        result = queries.search(
            embedding, params.text(request, "q", required=True), column=params.text(request, "column"),
            limit=params.integer(request, "limit", default=100, minimum=1, maximum=100000),
        )
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
    def _serve_projection(self, request):
        embedding = self._embedding(request)
        method = params.choice(request, "method", ("pca", "tsne"), default="pca")
        fmt = params.choice(request, "format", ("bin", "json"), default="bin")
        result = self._engine.projection(embedding.vectors, embedding.fingerprint, method=method,
                                         valid=embedding.finite, wait=False)
        if isinstance(result, Pending):
            return self._json_or_pending(request, result)
        coords = np.ascontiguousarray(result.coords, dtype="<f4")
        if fmt == "json":
            return responses.json_response(request, {
                "method": result.method, "n": int(coords.shape[0]), "sampled": bool(result.sampled),
                "coords": np.round(coords.astype(np.float64), 5)})
        headers = [("X-Projection-Shape", "%d,2" % coords.shape[0]), ("X-Projection-Method", result.method)]
        return responses.bytes_response(request, coords.tobytes(), "application/octet-stream", headers=headers)

    @wrappers.Request.application
    @json_errors
    def _serve_thumbnail(self, request):
        embedding = self._embedding(request)
        index = params.integer(request, "index", required=True)
        if not 0 <= index < embedding.shape[0]:
            raise NotFound("index %d is out of range: embedding %r has %d rows"
                           % (index, embedding.ref.name, embedding.shape[0]))
        if embedding.sprite is None:
            raise NotFound("embedding %r has no sprite image, so no thumbnails" % embedding.ref.name)
        png = self._store.thumbnail_png(embedding, index)
        return responses.bytes_response(request, png, "image/png", expires=86400)

    @wrappers.Request.application
    @json_errors
    def _serve_export(self, request):
        what = params.choice(request, "what", exports.KINDS, default="hard_examples")
        fmt = params.choice(request, "format", ("csv", "json"), default="csv")
        producer = {"hard_examples": self._hard_examples, "neighbors": self._neighbors,
                    "clusters": self._clusters}[what]
        payload = producer(request)
        if isinstance(payload, Pending):
            return self._json_or_pending(request, payload)
        body, content_type = exports.render(what, fmt, payload)
        filename = exports.filename(params.text(request, "embedding", default="embedding"), what, fmt)
        headers = [("Content-Disposition", 'attachment; filename="%s"' % filename)]
        return responses.bytes_response(request, body, content_type, headers=headers)

    @wrappers.Request.application
    @json_errors
    def _serve_compare(self, request):
        run = params.text(request, "run", required=True)
        name = params.text(request, "embedding", required=True)
        self._catalog.series(run, name)  # 404 for an unknown run or embedding
        entries, pending = [], []
        for series in self._catalog.same_name_elsewhere(name):
            for ref in series.refs:
                entry = {"run": ref.run, "step": ref.step}
                try:
                    result = self._clusters(request, self._store.load(ref))
                except (QueryError, LogError, ValueError) as error:  # a broken step must not hide the others
                    entry["error"] = str(error)
                else:
                    if isinstance(result, Pending):
                        pending.append(result.progress)
                        continue
                    entry.update(overall=result["overall"], labels=result["labels"])
                entries.append(entry)
        if pending:
            progress = (len(entries) + sum(pending)) / (len(entries) + len(pending))
            return self._json_or_pending(request, Pending(progress=progress, message="statistics of every step"))
        entries.sort(key=lambda e: (e["run"] != run, e["run"], -1 if e["step"] is None else e["step"]))
        return responses.json_response(request, {"run": run, "embedding": name, "series": entries})

    @wrappers.Request.application
    def _serve_static(self, request):
        prefix = "/data/plugin/%s/" % PLUGIN_NAME
        name = request.path[len(prefix):] if request.path.startswith(prefix) else ""
        found = self._static.get(name)
        if found is None:
            return responses.json_response(request, {"error": "no such file: %r" % name[:200]}, status=404)
        body, content_type = found
        return responses.bytes_response(request, body, content_type)
