"""The analysis layer: pure numpy / scikit-learn on (vectors, labels, fingerprint).

Modules: neighbors (exact blocked kNN), ann (HNSW index), labels (codes, kNN vote),
geometry (centroids, silhouette, Davies–Bouldin), clusters (per-label statistics),
hardness (hard-example scores), projection (PCA, t-SNE), jobs (background, single-flight),
disk_cache (content-addressed, checksummed), reports (results and their JSON), engine
(AnalysisEngine, what routes and CLI call).
"""

from tb_embedanalysis.analysis import engine  # noqa: F401  (analysis.engine.HARDNESS_METHODS)
from tb_embedanalysis.analysis.clusters import cluster_statistics  # noqa: F401
from tb_embedanalysis.analysis.engine import (  # noqa: F401
    DEFAULT_HARDNESS_METHOD, HARDNESS_METHODS, METRICS, AnalysisEngine, Pending)
