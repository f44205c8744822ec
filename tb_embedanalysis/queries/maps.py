"""The map's questions beyond the plain 2-D map: its settings (dimensions, PCA components,
t-SNE and UMAP parameters), a custom linear map between two queries, a column's numbers.

Every rule about these parameters is here (400 naming the parameter); the computing is
analysis/projection.py, pca.py and custom_axes.py behind the engine's cache.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from tb_embedanalysis.analysis import column_values, custom_axes, map_settings, pca, text_match
from tb_embedanalysis.analysis.engine import AnalysisEngine, Pending
from tb_embedanalysis.analysis.map_settings import MapSettings
from tb_embedanalysis.analysis.projection import PROJECTIONS
from tb_embedanalysis.analysis.umap_preview import LayoutPreview
from tb_embedanalysis.errors import InvalidArgument, NotFound
from tb_embedanalysis.logs.model import Embedding
from tb_embedanalysis.queries.rules import _column, check_choice, check_work_memory, space
from tb_embedanalysis.quoting import excerpt

MATCHES = ("exact", "regex")


def _bounded(name: str, value, bounds, *, integer: bool = False):
    default, low, high = bounds
    if value is None:
        return default
    if integer and value != int(value):
        raise InvalidArgument("parameter %r must be an integer, got %s" % (name, value))
    if not low <= value <= high:
        raise InvalidArgument("parameter %r must be between %s and %s, got %s" % (name, low, high, value))
    return int(value) if integer else float(value)


def check_settings(method: str, *, dims: Optional[int] = None, components: Optional[Sequence[int]] = None,
                   perplexity: Optional[float] = None, learning_rate: Optional[str] = None,
                   n_neighbors: Optional[int] = None, min_dist: Optional[float] = None,
                   n_epochs: Optional[int] = None) -> MapSettings:
    """The map's settings from a request's values (None: the default); 400 naming the
    parameter for a value out of its bounds (map_settings.py) or one the method cannot use."""
    if dims is not None and dims not in map_settings.DIMENSIONS:
        raise InvalidArgument("parameter 'dims' must be 2 or 3, got %d" % dims)
    if components is not None:
        if method != "pca":
            raise InvalidArgument("parameter 'components' is for method=pca only, not %s" % method)
        if dims is not None and len(components) != dims:
            raise InvalidArgument("parameter 'components' must name %d components (dims=%d), got %d"
                                  % (dims, dims, len(components)))
        if len(components) not in map_settings.DIMENSIONS:
            raise InvalidArgument("parameter 'components' must name 2 or 3 distinct components, got %d"
                                  % len(components))
        for c in components:
            if not 1 <= c <= pca.MAX_COMPONENTS:
                raise InvalidArgument("parameter 'components' must be between 1 and %d, got %d" % (pca.MAX_COMPONENTS, c))
    dims = dims or (len(components) if components else 2)
    rate: Optional[float] = None
    if learning_rate is not None and learning_rate.strip().lower() != "auto":
        try:
            number = float(learning_rate)
        except ValueError:
            raise InvalidArgument("parameter 'learning_rate' must be a number or auto, got %s"
                                  % excerpt(learning_rate)) from None
        rate = _bounded("learning_rate", number, (None,) + map_settings.LEARNING_RATE[1:])
    return MapSettings(
        dims=dims, components=tuple(components) if components else tuple(range(1, dims + 1)),
        perplexity=_bounded("perplexity", perplexity, map_settings.PERPLEXITY),
        learning_rate=rate,
        n_neighbors=_bounded("n_neighbors", n_neighbors, map_settings.NEIGHBOURS, integer=True),
        min_dist=_bounded("min_dist", min_dist, map_settings.MIN_DIST),
        epochs=_bounded("n_epochs", n_epochs, map_settings.EPOCHS, integer=True))


def projection(engine: AnalysisEngine, embedding: Embedding, *, method: Optional[str] = None,
               settings: MapSettings = map_settings.DEFAULT, wait: bool = False, on_progress=None):
    """The map (a ProjectionResult, 2-D or 3-D) or Pending, whose `preview` is then the
    layout so far as JSON (`preview_json`) while UMAP lays it out."""
    method = check_choice("method", method, tuple(PROJECTIONS))
    if method == "umap" and settings.n_neighbors != map_settings.DEFAULT.n_neighbors:
        # More neighbours, a bigger exact kNN graph under the map: refused (422) before it
        # starts when it would pass the working-memory budget, as every graph question is.
        check_work_memory(engine, embedding, "outliers", k=settings.n_neighbors,
                          what="a UMAP map with n_neighbors = %d" % settings.n_neighbors)
    result = engine.maps.projection(space(embedding), method=method, settings=settings, wait=wait,
                                    on_progress=on_progress)
    if isinstance(result, Pending) and isinstance(result.preview, LayoutPreview):
        return dataclasses.replace(result, preview=preview_json(result.preview))
    return result


def preview_json(preview: LayoutPreview) -> dict:
    """A 202's `preview` (http_api.md /projection): the layout at `epoch` of `n_epochs`, its
    (n, dims) coordinates as format=bin's bytes (float32 little-endian, NaN for rows not
    embedded) in base64: ~1 µs a point to write and to read, where numbers in JSON took ~6 ms
    for 2,500 points on every poll, in the layout's process (measured: +0.06 s on its map).
    Never the map: the final answer replaces it."""
    coords = np.ascontiguousarray(preview.coords, dtype="<f4")
    return {"epoch": preview.epoch, "n_epochs": preview.n_epochs, "n": int(coords.shape[0]),
            "dims": int(coords.shape[1]), "coords_base64": base64.b64encode(coords.tobytes()).decode("ascii")}


def settings_json() -> dict:
    """The settings' defaults and bounds (/projection_settings)."""
    return {"methods": list(PROJECTIONS), "settings": map_settings.defaults(), "matches": list(MATCHES)}


def _rows(embedding: Embedding, name: str, text: str, column: Optional[str], match: str) -> np.ndarray:
    """Valid rows whose metadata (`column`, else any column) matches `text`; 400 naming the
    parameter when none does."""
    if embedding.metadata is None:
        raise NotFound("embedding %r has no metadata to match %r against" % (embedding.ref.name, name))
    columns = [_column(embedding, column)] if column else list(embedding.metadata.columns)
    found: Sequence[int]
    if match == "exact":
        found = sorted({row for c in columns for row in text_match.find_value(embedding.metadata.values[c], text)})
    else:
        try:
            _, found = text_match.search([embedding.metadata.values[c] for c in columns], text,
                                         limit=embedding.shape[0])
        except text_match.SearchTimeout as error:
            raise InvalidArgument(str(error).replace("parameter 'q'", "parameter %r" % name)) from None
    rows = custom_axes.rows_of(embedding.finite, found)
    if not rows.size:
        where = "column %r" % column if column else "any column"
        raise InvalidArgument("parameter %r: no row with vectors has %s %s in %s" % (
            name, "the value" if match == "exact" else "a match for", excerpt(text), where))
    return rows


def custom_projection(engine: AnalysisEngine, embedding: Embedding, *, left: Optional[str], right: Optional[str],
                      down: Optional[str] = None, up: Optional[str] = None, column: Optional[str] = None,
                      match: Optional[str] = None, wait: bool = False, on_progress=None) -> Union[dict, Pending]:
    """The custom linear map: x from `left` to `right`, y from `down` to `up` (or PCA of
    what x leaves when neither is given); each a metadata value (match=exact, the default)
    or a regex (match=regex), in `column` or any column. The answer: coords and what each
    end matched."""
    match = check_choice("match", match, MATCHES)
    for name, value in (("left", left), ("right", right)):
        if value is None:
            raise InvalidArgument("missing required parameter %r" % name)
    if (down is None) != (up is None):
        raise InvalidArgument("parameter %r needs %r too (or give neither: y is then PCA)"
                              % (("down", "up") if down is not None else ("up", "down")))
    ends = {name: _rows(embedding, name, text, column, match)
            for name, text in (("left", left), ("right", right), ("down", down), ("up", up)) if text is not None}
    x_ends = (ends["left"], ends["right"])
    y_ends: Optional[Tuple[np.ndarray, np.ndarray]] = (ends["down"], ends["up"]) if "down" in ends else None
    try:  # cheap (the ends' rows only): a flat axis is the caller's 400 before any job starts
        custom_axes.direction(embedding.vectors, *x_ends, axis="x")
        if y_ends is not None:
            custom_axes.direction(embedding.vectors, *y_ends, axis="y")
    except custom_axes.FlatAxis as error:
        raise InvalidArgument("parameters %s: %s" % ("left, right" if "axis x" in str(error) else "down, up",
                                                     error)) from None
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(ends[n], dtype="<i8").tobytes() + b"|"
                                     for n in ("left", "right", "down", "up") if n in ends)).hexdigest()[:32]
    result = engine.maps.custom_map(space(embedding), x_ends, y_ends, ident=digest, wait=wait, on_progress=on_progress)
    if isinstance(result, Pending):
        return result
    return {"coords": result.coords, "cosine": result.cosine, "y_from": result.y_from,
            "matched": {name: int(rows.size) for name, rows in ends.items()}}


def column_numbers(embedding: Embedding, column: str) -> Optional[dict]:
    """column_values.summary of one metadata column (None: not numeric)."""
    assert embedding.metadata is not None
    values = embedding.metadata.values[column]
    return column_values.summary(values.categories, values.codes)
