"""Near-duplicates: every pair of valid points within a distance threshold, grouped into sets.

A *pair* is two valid rows with d(x_i, x_j) ≤ threshold (inclusive, so exact duplicates are
pairs at threshold 0). *Groups* are the connected components of the pair graph
(scipy.sparse.csgraph), so a chain a–b–c is one group even when d(a, c) > threshold.

Exact at any N. Candidates come from the exact kNN graph (k neighbours per row): a pair
(i, j) within the threshold is among i's k nearest unless i has k neighbours at least as
near; those *saturated* rows (k-th neighbour within the threshold: the graph's distances are
exact.py's float64 ones) are scanned against every row in bounded blocks, in float64 about
the rows' mean with a slack for that product's rounding. Every candidate's distance is then
recomputed in float64 from the vectors, and only those ≤ threshold are kept: what is
counted is verified.

Bounded: before the graph, `check_pair_bound` scans a sample of SAMPLE_ROWS rows against
every row; the pairs they alone take part in are a lower bound of the pairs, and more than
max_pairs of them refuse at once (threshold 2 on 70,000 × 64 cosine rows: +1.3 GB and a
minute before, a fraction of a second now). Each saturated row has at least k pairs, so more
than 2·max_pairs/k saturated rows prove more than max_pairs pairs, and `TooManyPairs` is
raised before any scan. The scan counts each block's pairs before it lists them (a count
of certain pairs passing max_pairs refuses) and keeps each pair once, so it never holds
much more than max_pairs pairs.

Default threshold (cleanlab Datalab's near-duplicate rule): 0.13 × the median distance of
a point to its nearest neighbour. Points that close are far closer to each other than the
typical point is to anything; a median of 0 (most points duplicated) gives 0: exact
duplicates only.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tb_embedanalysis.analysis.geometry import point_distances
from tb_embedanalysis.analysis.neighbors import KnnGraph, PreparedMatrix
from tb_embedanalysis.analysis.propose import BLOCK_ELEMENTS
from tb_embedanalysis.analysis.progress import ProgressFn

#: Neighbours per row of the kNN graph candidates come from (the default k's graph, often cached).
GRAPH_K = 10
#: Fraction of the median 1-NN distance the default threshold is (cleanlab's default).
DEFAULT_FRACTION = 0.13
#: Most pairs a duplicates answer holds (3 arrays of this length: ~24 MB at 1,000,000).
MAX_PAIRS = 1_000_000
#: Rows per column block of the saturated rows' scan (16 MB of float64 at D = 128).
SCAN_COLUMNS = 16384
#: Distances per block of the scan: 2**21 float64 = 16 MB an array (point_distances makes a
#: few); 2**24 made a 70,000-row scan's first block alone take ~1 GB.
SCAN_ELEMENTS = 1 << 21
#: Rows check_pair_bound scans against every row before any graph is built.
SAMPLE_ROWS = 256
#: Slack on the graph's float64 distances (a pair's two ends compute them in a different order).
_SLACK = 1e-12


class TooManyPairs(ValueError):
    """The threshold links more than `max_pairs` pairs (the message says so)."""


def _too_many(max_pairs: int, threshold: float, why: str = "") -> TooManyPairs:
    return TooManyPairs("threshold too large: more than {:,} pairs within {:.6g}{}; choose a smaller threshold"
                        .format(max_pairs, threshold, " (%s)" % why if why else ""))


@dataclasses.dataclass(frozen=True, eq=False)
class DuplicateReport:
    """threshold used and where it came from ("default" | "given"); pairs (P, 2) int64 original
    indices (i < j, sorted); distances (P,) float64; group_of (N,) int64 group id per row (−1:
    in no pair); groups: members of each group (int64 arrays, ascending), ordered by size
    descending then smallest member; max_distance (G,) the largest linked pair's distance."""

    threshold: float
    threshold_source: str
    metric: str
    pairs: np.ndarray
    distances: np.ndarray
    group_of: np.ndarray
    groups: Tuple[np.ndarray, ...]
    max_distance: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.pairs.nbytes + self.distances.nbytes + self.group_of.nbytes
                   + sum(g.nbytes for g in self.groups) + self.max_distance.nbytes)


def default_threshold(graph: KnnGraph, valid: np.ndarray) -> float:
    """DEFAULT_FRACTION × median nearest-neighbour distance of the valid rows."""
    nearest = graph.distances[np.asarray(valid, dtype=bool), 0]
    return float(DEFAULT_FRACTION * np.median(nearest)) if nearest.size else 0.0


def pair_distances(matrix: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances (P,) float64 between rows a[p] and b[p] of `matrix`, computed in float64
    (cosine: 1 − cos, a zero vector at 1 from everything, clipped to [0, 2])."""
    out = np.empty(a.size, dtype=np.float64)
    step = max(1, BLOCK_ELEMENTS // (4 * max(matrix.shape[1], 1)))
    for start in range(0, a.size, step):
        x = matrix[a[start:start + step]].astype(np.float64)
        y = matrix[b[start:start + step]].astype(np.float64)
        if metric == "cosine":
            dots = np.einsum("ij,ij->i", x, y)
            norms = np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
            out[start:start + step] = np.clip(1.0 - cos, 0.0, 2.0)
        else:
            diff = x - y
            out[start:start + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def find_duplicates(prep: PreparedMatrix, graph: KnnGraph, *, threshold: Optional[float] = None,
                    max_pairs: int = MAX_PAIRS, on_progress: ProgressFn = None) -> DuplicateReport:
    """Every pair within `threshold` (None: default_threshold) and its groups; see the module
    docstring. graph: the exact kNN graph of `prep`'s valid rows. Raises TooManyPairs."""
    source = "default" if threshold is None else "given"
    threshold = default_threshold(graph, prep.valid) if threshold is None else float(threshold)
    n, k = prep.matrix.shape[0], graph.k
    rows = np.flatnonzero(prep.valid)
    loose = threshold + _slack(prep, threshold)
    # Compared in the graph's dtype: a big graph's float32 distances are the exact ones
    # rounded (monotone), so d <= loose implies rounded(d) <= rounded(loose): no pair missed.
    graph_loose = graph.distances.dtype.type(loose)
    saturated = rows[graph.distances[rows, k - 1] <= graph_loose]
    if saturated.size * k / 2 > max_pairs:
        raise _too_many(max_pairs, threshold, "{:,} points have all {} nearest neighbours within it"
                        .format(saturated.size, k))
    # Candidates from the graph: (row, neighbour) within the loose threshold, as i < j.
    near = graph.distances[rows] <= graph_loose
    a = np.repeat(rows, near.sum(axis=1))
    b = graph.indices[rows][near]
    candidates = [np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)]
    if saturated.size:
        candidates.append(_scan(prep, saturated, loose, max_pairs, threshold, on_progress))
    pairs = np.unique(np.concatenate(candidates).reshape(-1, 2), axis=0)
    distances = pair_distances(prep.matrix, pairs[:, 0], pairs[:, 1], prep.metric)
    keep = distances <= threshold
    pairs, distances = pairs[keep], distances[keep]
    if pairs.shape[0] > max_pairs:
        raise _too_many(max_pairs, threshold)
    group_of, groups, max_distance = _groups(n, pairs, distances)
    return DuplicateReport(threshold, source, prep.metric, pairs, distances, group_of, groups, max_distance)


def _slack(prep: PreparedMatrix, threshold: float) -> float:
    """How much _scan's float64 distances (and the graph's, computed from either end) may
    misplace a distance near `threshold`."""
    if prep.metric == "cosine":
        return _SLACK + 4 * (prep.matrix.shape[1] + 2) * 2.0 ** -53
    # ‖a − c‖² + ‖b − c‖² − 2 (a − c)·(b − c) in float64 errs by ≤ 4 (D + 2) u R², R the
    # largest ‖x − c‖: that much in d², i.e. about that over 2d in d.
    rows = np.flatnonzero(prep.valid)
    largest = 0.0
    for start in range(0, rows.size, 65536):
        x = prep.matrix[rows[start:start + 65536]].astype(np.float64)
        x -= prep.frame.offset if prep.frame.offset is not None else 0.0
        largest = max(largest, float(np.einsum("ij,ij->i", x, x).max(initial=0.0)))
    centre_error = 8 * (prep.matrix.shape[1] + 2) * 2.0 ** -53 * largest * 4
    return float(np.sqrt(threshold ** 2 + centre_error) - threshold) + _SLACK * (1 + threshold)


def _centre(prep: PreparedMatrix, valid: np.ndarray) -> Optional[np.ndarray]:
    """The valid rows' mean in float64 (euclidean distances are computed about it), else None."""
    if prep.metric != "euclidean":
        return None
    centre = np.zeros(prep.matrix.shape[1])
    for start in range(0, valid.size, SCAN_COLUMNS):
        centre += prep.matrix[valid[start:start + SCAN_COLUMNS]].sum(axis=0, dtype=np.float64)
    return centre / max(1, valid.size)


def check_pair_bound(prep: PreparedMatrix, threshold: float, *, max_pairs: int = MAX_PAIRS,
                     sample: int = SAMPLE_ROWS) -> None:
    """Raise TooManyPairs when `sample` evenly spaced valid rows alone prove more than
    `max_pairs` pairs within `threshold`: Σ of their pair counts minus the pairs among
    themselves (counted twice) is at most the number of pairs. Pairs are counted only where
    the float64 distance is within threshold less its rounding slack (certain pairs). Cost:
    sample × N distances, before any graph is built."""
    valid = np.flatnonzero(prep.valid)
    rows = valid[np.unique(np.linspace(0, valid.size - 1, min(sample, valid.size)).astype(np.int64))]
    certain = threshold - _slack(prep, threshold)
    if rows.size < 2 or certain < 0:
        return
    centre = _centre(prep, valid)
    found = 0
    step = max(1, SCAN_ELEMENTS // rows.size)  # SCAN_ELEMENTS distances a block
    for first in range(0, valid.size, step):
        cols = valid[first:first + step]
        dist = point_distances(prep.matrix[rows], prep.matrix[cols], prep.metric, centre=centre)
        dist[rows[:, None] == cols[None, :]] = np.inf  # not a pair with itself
        found += int(np.count_nonzero(dist <= certain))
    proven = found - rows.size * (rows.size - 1) // 2
    if proven > max_pairs:
        raise _too_many(max_pairs, threshold, "the {:,} points sampled alone have {:,}".format(rows.size, proven))


def _scan(prep: PreparedMatrix, queries: np.ndarray, loose: float, max_pairs: int, threshold: float,
          on_progress: ProgressFn) -> np.ndarray:
    """(P, 2) pairs (i < j) of each row of `queries` with every valid row within `loose`,
    by float64 distances about the valid rows' mean (point_distances), in blocks of at most
    SCAN_ELEMENTS distances and SCAN_COLUMNS rows; each pair once (a pair of two queries
    from its smaller end).

    Bounded: each block's pairs are counted before they are listed; pairs certainly within
    `threshold` (their distance within it less the slack `loose` − threshold) passing
    max_pairs refuse at once. Uncertain ones (within the slack of the threshold) are listed
    and, when the list passes max_pairs, verified (pair_distances) and dropped if not pairs.
    So at most max_pairs + one block's pairs are held."""
    valid = np.flatnonzero(prep.valid)
    centre = _centre(prep, valid)
    certain = threshold - (loose - threshold)
    is_query = np.zeros(prep.matrix.shape[0], dtype=bool)
    is_query[queries] = True
    step = max(1, SCAN_ELEMENTS // SCAN_COLUMNS)
    found: list = []
    held = sure = 0
    for start in range(0, queries.size, step):
        block = queries[start:start + step]
        for first in range(0, valid.size, SCAN_COLUMNS):
            cols = valid[first:first + SCAN_COLUMNS]
            dist = point_distances(prep.matrix[block], prep.matrix[cols], prep.metric, centre=centre)
            within = dist <= loose
            # (i, j) once: j not a query (never scanned from its end), or i < j (itself excluded)
            within &= ~is_query[cols][None, :] | (block[:, None] < cols[None, :])
            count_sure = int(np.count_nonzero(within & (dist <= certain)))
            if sure + count_sure > max_pairs:
                raise _too_many(max_pairs, threshold)
            qi, j = np.nonzero(within)
            del dist, within
            found.append(np.stack([block[qi], cols[j]], axis=1))  # block[qi] < cols[j] or cols[j] not scanned
            held, sure = held + qi.size, sure + count_sure
            if held > max_pairs:  # uncertain ones beyond the bound: keep only verified pairs
                pairs = np.concatenate(found)
                pairs = pairs[pair_distances(prep.matrix, pairs[:, 0], pairs[:, 1], prep.metric) <= threshold]
                if pairs.shape[0] > max_pairs:
                    raise _too_many(max_pairs, threshold)
                found, held, sure = [pairs], pairs.shape[0], pairs.shape[0]
        if on_progress is not None:
            on_progress(min(1.0, (start + block.size) / queries.size), "near-duplicates")
    pairs = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    return np.stack([pairs.min(axis=1), pairs.max(axis=1)], axis=1)


def _groups(n: int, pairs: np.ndarray, distances: np.ndarray):
    """Connected components of the pair graph with ≥ 2 members."""
    group_of = np.full(n, -1, dtype=np.int64)
    if not pairs.shape[0]:
        return group_of, (), np.empty(0)
    graph = coo_matrix((np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    linked = np.unique(pairs)
    comp = component[linked]
    sizes = np.bincount(comp)
    # Order: size descending, then smallest member (linked is ascending, so first occurrence).
    ids, first = np.unique(comp, return_index=True)
    order = ids[np.lexsort((linked[first], -sizes[ids]))]
    new_id = np.full(component.max() + 1, -1, dtype=np.int64)
    new_id[order] = np.arange(order.size)
    group_of[linked] = new_id[comp]
    members = linked[np.argsort(group_of[linked], kind="stable")]
    bounds = np.cumsum(np.bincount(group_of[linked], minlength=order.size))[:-1]
    groups = tuple(np.split(members, bounds))
    max_distance = np.zeros(order.size)
    np.maximum.at(max_distance, group_of[pairs[:, 0]], distances)
    return group_of, groups, max_distance
