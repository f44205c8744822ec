"""Exact kNN at large N: k-means cells propose candidates, a triangle-inequality bound proves
that nothing outside them can rank, and points the bound cannot clear are searched further.

It proposes the candidates propose.propose would (the same float32 ranking keys on the
working matrix W of frame.py, the same tie rule: equal keys ordered by row index), only
computed on fewer rows; neighbors.finish turns them into the exact float64 answer. For each
query and cell, certified_bounds.py bounds from below the key any member of the cell can have
(triangle inequality, float32 rounding allowed for). If that bound exceeds the k-th smallest
key found so far (strictly: an equal key with a smaller index would still win its tie), no
member of the cell can be among the k nearest, and the answer is *certified*. Otherwise the
cell is searched too; a query for which that would mean most of the matrix is searched by
neighbors.search itself.

Exactness therefore never depends on the data; the cost does: on clustered data a query
searches a few cells, on structureless data (uniform noise in 128-D) every bound fails, and
certified_graph.py's pilot notices that and takes the plain blocked search instead.

Keys are computed as certified_keys.py does, bit for bit the keys of neighbors.py. The whole
graph (blocks on threads, the pilot, the fallback) is certified_graph.py.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, List, Optional, Tuple

import numpy as np

from tb_embedanalysis.analysis import certified_bounds, neighbors, partition as partition_mod, propose as propose_mod
from tb_embedanalysis.analysis.certified_keys import PAD, merge_topk, subset_keys
from tb_embedanalysis.analysis.neighbors import PreparedMatrix, ProgressFn

#: Round one searches the cells with the smallest bounds until this many rows (× mean cell size).
FIRST_ROUND_CELLS = 3
#: When the uncertified cells of a block hold more than this fraction of the rows, the block
#: scans every row in contiguous slices: gathering rows costs more than it saves past here.
FULL_SCAN_FRACTION = 0.5
#: Queries per block of the graph (certified_graph.py): the bounds are (m, cells) float64.
QUERY_BLOCK = 1024
#: Queries that need every row are scanned together, in batches of this many.
SCAN_BATCH = 1024
#: Columns per slice of a scan: small enough that the cut tightens early.
SCAN_COLUMNS = 8192


@dataclasses.dataclass
class SearchStats:
    """What a search cost: queries, row·query pairs whose keys were computed, queries
    certified after round one / two, queries searched over everything."""

    queries: int = 0
    pairs: int = 0
    certified_first: int = 0
    certified_second: int = 0
    full_scan: int = 0

    def searched_fraction(self, n_rows: int) -> float:
        return self.pairs / max(1, self.queries * n_rows)

    def add(self, other: "SearchStats") -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class CertifiedIndex:
    """Exact k-nearest-neighbour search over `prep` through a k-means partition.

    search() (and certified_graph.knn_graph) return exactly what neighbors.search /
    neighbors.knn_graph return (indices and distances), usually after computing far fewer
    keys. Thread-safe: nothing is mutated after construction.
    """

    def __init__(self, prep: PreparedMatrix, *, seed: int = 0, n_cells: int = 0, on_progress: ProgressFn = None,
                 part: Optional[partition_mod.Partition] = None):
        """`part`: cells built already (partition.Lloyd), else partition.build's of `prep`."""
        self.prep = prep
        self.part = part if part is not None else partition_mod.build(prep, seed=seed, n_cells=n_cells,
                                                                       on_progress=on_progress)
        self.valid_rows = np.flatnonzero(prep.valid)
        self._gamma = certified_bounds.rounding_factor(prep)
        self._mean_cell = max(1.0, self.part.rows.size / max(1, self.part.n_cells))

    @property
    def nbytes(self) -> int:
        p = self.part
        return int(sum(a.nbytes for a in (p.rows, p.starts, p.centroids, p.radii, p.max_norms, p.zero_rows)))

    # -- bounds ----------------------------------------------------------------------------
    def key_lower_bounds(self, queries: np.ndarray) -> np.ndarray:
        """(m, C) float64: no member of cell j has a computed key below [i, j] for query i
        (certified_bounds.key_lower_bounds)."""
        return certified_bounds.key_lower_bounds(self.prep, self.part, queries, self._gamma)

    # -- one block of queries --------------------------------------------------------------
    def _keys_topk(self, queries, exclude, cand, k):
        """Top k (row indices, keys) among the sorted rows `cand` by (key, row), keys
        computed as propose.row_keys does."""
        m = queries.shape[0]
        idx = np.empty((m, k), dtype=np.int64)
        keys_out = np.empty((m, k), dtype=self.prep.work.dtype)
        x = self.prep.work[cand]
        step = max(1, propose_mod.BLOCK_ELEMENTS // max(1, cand.size))
        for start in range(0, m, step):
            keys = subset_keys(self.prep, queries[start:start + step], x, cand, exclude[start:start + step])
            sel = propose_mod.smallest_k(keys, k)
            idx[start:start + step] = cand[sel]
            keys_out[start:start + step] = np.take_along_axis(keys, sel, axis=1)
        return idx, keys_out

    def _rows_of(self, cells: np.ndarray) -> np.ndarray:
        p = self.part
        if cells.size == 0:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([p.rows[p.starts[j]:p.starts[j + 1]] for j in cells])

    def _block(self, queries, exclude, k, stats: SearchStats):
        """(indices (m, k), keys (m, k), full, cut) of one block of queries that sit close
        together (one cell's members, or the queries nearest one centroid). Rows `full` of
        the block still need a scan of every row, with `cut` (len(full),) as first cut."""
        p, m = self.part, queries.shape[0]
        stats.queries += m
        bounds = self.key_lower_bounds(queries)
        # Zero rows (cosine) all have key 0: only the first k + 1 by index can ever rank.
        extra = p.zero_rows[:k + 1]
        zero_query = np.zeros(m, dtype=bool)
        if self.prep.metric == "cosine":
            zero_query = ~queries.any(axis=1)
        if zero_query.any():  # q = 0: every key is 0, so the first valid rows by index win
            extra = np.union1d(extra, self.valid_rows[:k + 1])
        probe = np.empty(0, dtype=np.int64)
        if not zero_query.all():
            order = np.argsort(bounds[~zero_query].min(axis=0), kind="stable")
            need = max(FIRST_ROUND_CELLS * self._mean_cell, k + 1)
            probe = order[:int(np.searchsorted(np.cumsum(p.sizes[order]), need)) + 1]
        cand = np.union1d(self._rows_of(probe), extra)
        idx, keys = self._keys_topk(queries, exclude, cand, k)
        stats.pairs += m * cand.size
        kth = keys[:, -1]
        open_cells = bounds <= kth[:, None].astype(np.float64)
        open_cells[:, probe] = False
        open_cells[zero_query] = False
        todo = np.flatnonzero(open_cells.any(axis=1))
        stats.certified_first += m - todo.size
        if todo.size:
            cells = np.flatnonzero(open_cells[todo].any(axis=0))
            q, ex = queries[todo], exclude[todo]
            if p.sizes[cells].sum() > FULL_SCAN_FRACTION * self.valid_rows.size:
                # Every row, in contiguous slices, batched with other blocks by the caller;
                # the probe's k-th key is the first cut (probe rows come round again).
                stats.full_scan += todo.size
                stats.pairs += todo.size * self.prep.matrix.shape[0]
                return idx, keys, todo, kth[todo]
            else:
                stats.certified_second += todo.size
                idx[todo], keys[todo] = self._search_cells(q, ex, k, kth[todo], cells, open_cells[todo][:, cells],
                                                           (idx[todo], keys[todo]), stats)
        return idx, keys, np.empty(0, dtype=np.int64), kth[:0]

    def _search_cells(self, queries, exclude, k, cut, cells, need, best, stats: SearchStats):
        """Top k (row indices, keys) of `queries` merged with `best`, where cell cells[j] is
        searched for exactly the queries with need[:, j] (the ones its bound does not clear),
        keeping keys ≤ `cut` (the k-th key of a true candidate set). One product per cell:
        a block's queries need 6× fewer keys so than with every cell any of them needs
        (1M × 128 `typical`, bench_million)."""
        prep, p = self.prep, self.part
        found_q, found_rows, found_keys = [], [], []
        found, limit = 0, best[0].size  # survivors held before a merge: at most one more (m, k)
        for j, cell in enumerate(cells):
            who = np.flatnonzero(need[:, j])
            cols = p.members(cell)
            keys = subset_keys(prep, queries[who], prep.work[cols], cols, exclude[who])
            stats.pairs += keys.size
            r, c = np.nonzero(keys <= cut[who, None])
            found_q.append(who[r])
            found_rows.append(cols[c])
            found_keys.append(keys[r, c])
            found += r.size
            if found > limit:
                # Merged as they come: at k = 1,000 a block's survivors of all its cells were
                # ~10 M (a 600 MB merge per thread, issue 25.3). The k best of a part of the
                # survivors keep every final one, and the merged k-th key tightens the cut
                # (a key above it has k better already; an equal one may still win its tie).
                best = merge_topk(best[0], best[1], np.concatenate(found_q), np.concatenate(found_rows),
                                  np.concatenate(found_keys))
                cut = np.minimum(cut, best[1][:, -1])
                found_q, found_rows, found_keys, found = [], [], [], 0
        if not found:
            return best
        return merge_topk(best[0], best[1], np.concatenate(found_q), np.concatenate(found_rows),
                      np.concatenate(found_keys))

    def run_blocks(self, blocks: Iterable[np.ndarray], queries_of, exclude_of, k, stats, on_result,
             on_block: Optional[Callable[[int], None]] = None):
        """_block each block (an index array into the caller's W-space queries), then scan
        every row for the queries that need it in batches of SCAN_BATCH; on_result(where, idx, keys)
        once per query with its k best rows by (key, row) and their keys; on_block(rows) after each block."""
        pending: List[Tuple[np.ndarray, np.ndarray]] = []

        def flush():
            where = np.concatenate([w for w, _ in pending])
            cut = np.concatenate([c for _, c in pending])
            q, ex = queries_of(where), exclude_of(where)
            on_result(where, *self._scan(q, ex, k, cut))
            pending.clear()

        for block in blocks:
            q = queries_of(block)
            idx, keys, full, cut = self._block(q, exclude_of(block), k, stats)
            done = np.ones(block.size, dtype=bool)
            done[full] = False
            if done.any():
                on_result(block[done], idx[done], keys[done])
            if full.size:
                pending.append((block[full], cut))
                if sum(w.size for w, _ in pending) >= SCAN_BATCH:
                    flush()
            if on_block is not None:
                on_block(block.size)
        if pending:
            flush()

    def _scan(self, queries, exclude, k, cut):
        """Top k (row indices, keys) of `queries` over every row, in contiguous slices,
        visiting only keys ≤ `cut` (m,): the k-th key of a true candidate set, so the final
        top k survive the cut, which tightens as the scan goes. Keys as propose.row_keys."""
        prep, m = self.prep, queries.shape[0]
        # padding that loses to any real row: key +inf
        best_idx, best_keys = np.full((m, k), -1, dtype=np.int64), np.full((m, k), np.inf, dtype=prep.work.dtype)
        total = prep.work.shape[0]
        step = max(PAD, min(SCAN_COLUMNS, propose_mod.BLOCK_ELEMENTS // max(1, m)))
        invalid = prep.invalid_rows
        for start in range(0, total, step):
            cols = np.arange(start, min(total, start + step))
            keys = subset_keys(prep, queries, prep.work[start:start + step], cols, exclude)  # a view: no copy
            if invalid.size:
                inside = invalid[(invalid >= cols[0]) & (invalid <= cols[-1])]
                keys[:, inside - cols[0]] = np.inf
            r, c = np.nonzero(keys <= cut[:, None])
            if r.size == 0:
                continue
            best_idx, best_keys = merge_topk(best_idx, best_keys, r, cols[c], keys[r, c])
            cut = np.minimum(cut, best_keys[:, -1])
        return best_idx, best_keys

    # -- public ----------------------------------------------------------------------------
    def search(self, queries, k: int, *, exclude=None, stats: Optional[SearchStats] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Exactly neighbors.search(prep, queries, k, exclude=exclude): (indices (m, k) int64,
        distances (m, k) float64) for stored-space `queries` (m, D). Candidates are proposed
        with queries grouped by their nearest cell, then made exact by neighbors.finish."""
        prep = self.prep
        queries = np.asarray(queries, dtype=prep.matrix.dtype).reshape(-1, prep.matrix.shape[1])
        m = queries.shape[0]
        exclude = np.full(m, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64).reshape(m)
        avail = neighbors.available(prep, exclude)
        limit = int(avail.min(initial=prep.n_valid))
        if not 1 <= k <= limit:
            raise ValueError("k must be between 1 and %d (valid rows%s), got %d"
                             % (limit, "" if (exclude < 0).all() else " minus the query", k))
        kk = min(neighbors.candidates(k), limit)
        wq = neighbors.work_queries(prep, queries, exclude)
        stats = SearchStats() if stats is None else stats
        cand = self.propose(wq, kk, exclude, stats)
        return neighbors.finish(prep, queries, wq, cand, k, exclude,
                                proposer=lambda w, wide, ex: self.propose(w, wide, ex, stats))

    def propose(self, wq: np.ndarray, kk: int, exclude: np.ndarray, stats: Optional[SearchStats] = None
                ) -> np.ndarray:
        """(m, kk) int64: the kk best rows of each W-space query (m, D) by (float32 key, row),
        as propose.propose gives them; queries are grouped by their nearest cell."""
        stats = SearchStats() if stats is None else stats
        m = wq.shape[0]
        cand = np.empty((m, kk), dtype=np.int64)
        if self.part.n_cells == 0:
            groups = [np.arange(m)]
        else:
            nearest = np.argmin(self.key_lower_bounds(wq), axis=1)
            order = np.argsort(nearest, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(nearest[order])) + 1)

        def store(where, i, _keys):
            cand[where] = i

        self.run_blocks([g for g in groups if g.size], lambda w: wq[w], lambda w: exclude[w], kk, stats, store)
        return cand
