"""What a UMAP layout looks like while umap-learn runs it: epochs counted and, when asked,
the layout itself copied between two epochs of the same run (issue 25.5).

umap-learn's one per-epoch hook is its public ``tqdm_kwds``: its epoch bar is formatted as
"<done> <total>" and written to `EpochWatcher`, a write-only file. The layout it improves
is an array that `umap.layouts.optimize_layout_euclidean` moves in place epoch after epoch;
umap-learn has no public way to see it before the end (``n_epochs`` as a list returns the
intermediate layouts only when the run is over), so `running_layout` reads that array from
the function's own frame, found by its code object, in the thread running it, while tqdm
writes (between two epochs: the numba epoch has returned, the next has not started).

Why read the running layout rather than the two alternatives (measured on 2,500 × 32 blobs
and the 1,797 digits, bench/README.md "UMAP after a restart"):
* a layout of the same run at epoch 30-60 of 500 already places every cluster where the
  final map has it (Procrustes disparity to the final map 0.04-0.13; 10-NN label accuracy on
  the map 0.85-0.98 against 0.99-1.0 at the end): the picture the user sees first is the
  one they end with, only less settled inside each cluster;
* a separate short run (30-100 epochs) is crisper inside clusters but lays them out
  elsewhere (disparity 0.12-0.79: the map would jump when replaced), and costs its seconds
  on top, in the same thread (umap-learn's epoch kernel holds the GIL);
* our own loop over umap-learn's private single-epoch kernel would have to copy
  `simplicial_set_embedding`'s preparation, and a umap-learn release that changed it would
  change a user's map silently; here the run is umap-learn's own, untouched: the final map
  is the same bits with or without previews, and a umap-learn that renamed the function or
  its argument only loses the previews (tests/test_analysis_umap_preview.py fails loudly).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
from typing import Callable, Optional

import numpy as np

#: The most points a preview is made for: each one copied (N × dims float32) at most
#: every MIN_INTERVAL seconds, and sent in every 202 answer of the map's polls (base64 of
#: the float32 bytes, queries/maps.py preview_json: ≤ 533 kB in 2-D, 800 kB in 3-D).
MAX_POINTS = 50_000
#: tqdm's mininterval: seconds between two epoch reports (and two copies of the layout).
MIN_INTERVAL = 0.25
#: The first epoch shown, as a share of the run: before it the layout is still about the
#: spectral initialisation (whole clusters misplaced), from ~30 of 500 the clusters sit where
#: the final map puts them (the module docstring). A first start, whose epoch kernel compiles
#: during epoch 0, otherwise showed epoch 1.
MIN_SHARE = 0.06


@dataclasses.dataclass(frozen=True, eq=False)
class LayoutPreview:
    """A UMAP layout in progress: coords (N, dims) float32 of the run at `epoch` of
    `n_epochs` (NaN rows: not embedded). Not the map: the final layout replaces it."""

    coords: np.ndarray
    epoch: int
    n_epochs: int


def _layout_code():
    try:
        from umap import layouts
    except ImportError:  # pragma: no cover - umap-learn is a dependency
        return None
    return getattr(getattr(layouts, "optimize_layout_euclidean", None), "__code__", None)


def running_layout() -> Optional[np.ndarray]:
    """The layout (n, dims) float32 that umap-learn's optimize_layout_euclidean is improving
    in this thread, read from its frame (not copied), or None when none runs here or the
    frame has no such array (another umap-learn)."""
    code = _layout_code()
    frame: Optional[types.FrameType] = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    if frame is None:
        return None
    layout = frame.f_locals.get("head_embedding")
    return layout if isinstance(layout, np.ndarray) and layout.ndim == 2 else None


class EpochWatcher:
    """A write-only file for tqdm (``tqdm_kwds={"file": watcher, "bar_format": "{n} {total}"}``):
    on_epoch(done, total) at each of umap-learn's epoch reports and, with `on_layout`,
    on_layout(LayoutPreview) with a copy of the layout at that epoch, its rows placed at
    `rows` of an (n_rows, dims) NaN array (n_rows ≤ MAX_POINTS, else no previews)."""

    def __init__(self, on_epoch: Callable[[int, int], None], *,
                 on_layout: Optional[Callable[[LayoutPreview], None]] = None,
                 rows: Optional[np.ndarray] = None, n_rows: int = 0):
        self._on_epoch = on_epoch
        self._on_layout = on_layout if rows is not None and n_rows <= MAX_POINTS else None
        self._rows = rows
        self._n_rows = n_rows

    def write(self, text: str) -> None:
        counts = re.findall(r"(\d+) (\d+)", text)
        if not counts:
            return
        done, total = map(int, counts[-1])
        total = max(total, 1)
        # Not before MIN_SHARE of the run (the spectral initialisation misplaces whole
        # clusters: 10-NN label accuracy 0.29-0.76 on the map) nor the end (the map itself).
        if self._on_layout is not None and max(1.0, MIN_SHARE * total) <= done < total:
            layout = running_layout()
            if layout is not None and self._rows is not None and layout.shape[0] == self._rows.size:
                coords = np.full((self._n_rows, layout.shape[1]), np.nan, dtype=np.float32)
                coords[self._rows] = layout
                self._on_layout(LayoutPreview(coords, done, total))
        self._on_epoch(done, total)

    def flush(self) -> None:
        pass
