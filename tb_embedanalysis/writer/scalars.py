"""Cluster-quality figures of an embedding, logged as ordinary TensorBoard scalars.

Tags (one series each, so they appear in the Scalars tab next to the loss)::

    embedding_quality/<name>/knn_accuracy      fraction of points whose k nearest
                                               neighbours' vote gives their own label
    embedding_quality/<name>/silhouette        mean silhouette by label, in [-1, 1]
    embedding_quality/<name>/purity/<label>    per label: fraction of its points' k
                                               neighbours that share the label

Higher is better for all of them. The figures come from the analysis engine's
`cluster_statistics` (the same numbers the tab shows); this module only names and
writes them. No TensorFlow: the events file is written with plain file I/O.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np

from tb_embedanalysis.writer.events import EventsFile
from tb_embedanalysis.writer.metadata_rows import EMPTY_PLACEHOLDER, is_blank, to_text
from tb_embedanalysis.writer.validation import as_vectors, check_name, check_rows, check_step

TAG_PREFIX = "embedding_quality"


def quality_scalars(
    vectors: Any, labels: Any, *, name: str, k: int = 10, metric: str = "cosine"
) -> Dict[str, float]:
    """Tag -> value for one embedding; see the module docstring for the tags.

    vectors: (N, D) array-like; rows with NaN/Inf are left out (with their labels).
    labels: N labels (any values; written with ``str()``, as in metadata.tsv).
    Values that are undefined (e.g. silhouette with a single label) are left out rather
    than written as NaN.
    """
    # Imported here: the analysis layer pulls in scikit-learn, which a plain
    # `import tb_embedanalysis` should not pay for.
    from tb_embedanalysis.analysis.clusters import cluster_statistics

    name = check_name(name)
    array = as_vectors(vectors, allow_nonfinite=True)
    label_array = np.asarray(labels, dtype=object)
    if label_array.ndim != 1:
        raise ValueError(f"labels must be one label per point, got shape {label_array.shape}")
    check_rows("labels", len(label_array), array.shape[0])
    # Labels as the tab shows them: the text metadata.tsv holds for the same values.
    texts = [label_text(label) for label in label_array]
    finite = np.isfinite(array).all(axis=1)
    report = cluster_statistics(
        array, texts, k=k, metric=metric, valid=None if finite.all() else finite
    ).to_dict()
    overall = report["overall"]
    prefix = f"{TAG_PREFIX}/{name}"
    values = {
        f"{prefix}/knn_accuracy": overall.get("knn_accuracy"),
        f"{prefix}/silhouette": overall.get("silhouette"),
    }
    for row in report.get("labels", ()):
        values[f"{prefix}/purity/{row['label']}"] = row.get("purity")
    return {
        tag: float(value)
        for tag, value in values.items()
        if value is not None and np.isfinite(value)
    }


def label_text(label: Any) -> str:
    """A label as written to metadata.tsv (str, bytes decoded, blank -> "<empty>")."""
    text = to_text(label)
    return EMPTY_PLACEHOLDER if is_blank(text) else text


def log_cluster_scalars(
    logdir: "os.PathLike[str] | str",
    vectors: Any,
    labels: Any,
    *,
    step: int,
    name: str,
    k: int = 10,
    metric: str = "cosine",
) -> Dict[str, float]:
    """Compute `quality_scalars` and write them at `step` into a new events file in `logdir`.

    Plain numpy in, TensorBoard scalars out - for training loops without Keras. Each call
    writes one small events file, flushed and closed before returning, so TensorBoard
    sees the points at once. (TensorBoard's default fast loader reads every events file
    of a run; the legacy loader, ``--load_fast=false``, polls only the newest one, so
    there keep other live writers out of this run directory or pass
    ``--reload_multifile=true``.) Returns the tag -> value mapping that was written.
    """
    logdir = os.fspath(logdir)
    checked_step = check_step(step)
    if checked_step is None:
        raise ValueError("step is required for scalars (an integer >= 0)")
    values = quality_scalars(vectors, labels, name=name, k=k, metric=metric)
    with EventsFile(logdir) as events:
        for tag, value in values.items():
            events.add_scalar(tag, value, checked_step)
    return values
