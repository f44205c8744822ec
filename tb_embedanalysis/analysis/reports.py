"""Result objects of the analysis layer and their JSON form (numbers through jsonable.number).

`ClusterReport.to_dict()` is the body of `/clusters`, `HardnessReport.page()` the examples
of `/hard_examples` (see tb_embedanalysis/http_api.md). Non-finite numbers become None.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

import numpy as np

from tb_embedanalysis.analysis.labels import Votes
from tb_embedanalysis.jsonable import number


@dataclasses.dataclass(frozen=True)
class Pending:
    """A computation still running: progress in [0, 1] and what it is doing.

    task, task_progress, task_message, eta_seconds: the computation it waits on *now* (the
    innermost running job, jobs.Job.waited_on: e.g. the kNN graph that /clusters and
    /outliers both need), named by an id that is the same for every question waiting on
    it, with that computation's own progress, so two cards never show two percentages for
    one graph; eta_seconds: its remaining time extrapolated from its progress so far (None
    until that says anything). estimate: a JSON-ready first answer while it runs
    (estimate_sample.py), when there is one. preview: the job's partial result to show
    meanwhile (Job.show: a map's layout in progress, umap_preview.LayoutPreview), or None.
    """

    progress: float
    message: str
    task: Optional[str] = None
    task_progress: Optional[float] = None
    task_message: Optional[str] = None
    eta_seconds: Optional[float] = None
    estimate: Optional[dict] = None
    preview: Optional[object] = None


@dataclasses.dataclass(frozen=True, eq=False)
class LabelStats:
    """Statistics of one label; see clusters.cluster_statistics for each definition."""

    label: str
    count: int
    spread: float
    radius_p90: float
    nearest_label: Optional[str]
    separation: Optional[float]
    purity: float
    knn_recall: float
    knn_precision: Optional[float]
    silhouette: Optional[float]
    hard_count: int

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key in ("spread", "radius_p90", "separation", "purity", "knn_recall", "knn_precision", "silhouette"):
            out[key] = number(out[key])
        out["count"], out["hard_count"] = int(self.count), int(self.hard_count)
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class ClusterReport:
    """overall: dict of overall figures; labels: per-label stats in natural label order;
    confusion: (L, L) int64, rows = given label, columns = kNN-vote label.
    knn_exact: whether the kNN graph behind it was exact (False above the ANN threshold)."""

    overall: dict
    labels: Tuple[LabelStats, ...]
    confusion: np.ndarray
    knn_exact: bool = True

    def to_dict(self) -> dict:
        overall = {key: (number(v) if isinstance(v, (float, np.floating)) else v) for key, v in self.overall.items()}
        return {
            "overall": overall,
            "labels": [stats.to_dict() for stats in self.labels],
            "confusion": {"labels": [s.label for s in self.labels],
                          "matrix": self.confusion.astype(int).tolist()},
        }


@dataclasses.dataclass(frozen=True, eq=False)
class HardnessReport:
    """Hard-example scores of the valid rows, ranked hardest first.

    method: registry name. rows (n,) original indices; codes / predicted (n,) label codes;
    scores (n,) higher = harder; margins (n,) centroid margin; order (n,) ranking
    (score descending, ties by index); votes: the uniform kNN vote (labels.Votes: its
    (row, label) counts are each row's neighbour labels); names: label names.
    """

    method: str
    names: Tuple[str, ...]
    rows: np.ndarray
    codes: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray
    margins: np.ndarray
    votes: Votes
    order: np.ndarray

    def _code(self, label: Optional[str]) -> Optional[int]:
        if label is None:
            return None
        try:
            return self.names.index(label)
        except ValueError:
            raise KeyError("unknown label %r; labels: %s" % (label, ", ".join(self.names[:20]))) from None

    def ranked(self, *, label: Optional[str] = None, predicted: Optional[str] = None) -> np.ndarray:
        """Positions (into rows) hardest first, restricted to a given and/or voted label."""
        order = self.order
        given, voted = self._code(label), self._code(predicted)
        if given is not None:
            order = order[self.codes[order] == given]
        if voted is not None:
            order = order[self.predicted[order] == voted]
        return order

    def page(self, label: Optional[str] = None, offset: int = 0, limit: int = 50, *,
             predicted: Optional[str] = None) -> Tuple[int, List[dict]]:
        """(total, examples[offset:offset+limit]) as /hard_examples dicts, hardest first."""
        order = self.ranked(label=label, predicted=predicted)
        return int(order.size), [self.example(int(pos)) for pos in order[offset:offset + limit]]

    def example(self, pos: int) -> dict:
        # the vote's triplets are sorted by (row, label): this row's are one run of them
        first, last = np.searchsorted(self.votes.rows, [pos, pos + 1])
        codes, counts = self.votes.classes[first:last], np.rint(self.votes.sums[first:last]).astype(np.int64)
        ranked = sorted(zip(codes.tolist(), counts.tolist()), key=lambda cc: (-cc[1], cc[0]))
        return {
            "index": int(self.rows[pos]),
            "label": self.names[self.codes[pos]],
            "score": number(self.scores[pos]),
            "predicted_label": self.names[self.predicted[pos]],
            "neighbor_labels": {self.names[c]: int(n) for c, n in ranked},
            "margin": number(self.margins[pos]),
        }

    def cells(self, true_label: str, predicted_label: str) -> np.ndarray:
        """Original indices (int64, hardest first) of the confusion cell (given, kNN vote)."""
        return self.rows[self.ranked(label=true_label, predicted=predicted_label)]


@dataclasses.dataclass(frozen=True, eq=False)
class ProjectionResult:
    """coords (N, 2 or 3) float32, NaN rows for invalid points; sampled: True if only some
    points were embedded (then the others are NaN too and n_embedded says how many were);
    variance: PCA's explained variance ratio of its top components (pca.py), else None."""

    coords: np.ndarray
    method: str
    sampled: bool = False
    n_embedded: int = 0
    variance: Optional[np.ndarray] = None

    def to_dict(self) -> dict:
        return {"method": self.method, "n": int(self.coords.shape[0]), "sampled": bool(self.sampled),
                "coords": [[number(x) for x in row] for row in self.coords.tolist()]}
