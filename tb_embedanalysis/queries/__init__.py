"""The questions the tab and the CLI ask, answered as JSON-ready dicts: the one seam.

Every route is parse (plugin/params.py: syntax only) → one function here → respond, and
the CLI calls the same functions, so `tb-embedanalysis analyze --format json` prints
exactly what `/clusters` and `/hard_examples` serve. Every *rule* about a parameter
(k's range and default, known metrics, columns, labels, limits) lives here, once. Nothing
here knows about HTTP: failures raise `tb_embedanalysis.errors` types that callers map.

The package splits them by subject; import everything from here:

* ``workspace``: the Workspace (catalog, store, engine, tags; `Workspace.open` builds one);
* ``rules``: every parameter rule;
* ``questions``: listing, neighbours, search, metadata, clusters, hard examples, maps,
  thumbnails, comparing steps;
* ``history``: what each point did across the training steps, and the history ranking;
* ``changes``: what changed between two embeddings of the same rows (churn, aligned maps);
* ``quality``: outliers and near-duplicates;
* ``tags``: tag requests, hiding tagged points, tag and corrected-metadata exports;
* ``movement``: neighbours marked `still` when their vector barely moved over the steps;
* ``subsets``: statistics and neighbours of a subset of rows alone (`rows=`).
* ``quick``: a sample's estimate in the 202 answers while the exact pass runs, and the
  CLI's ``analyze --quick``.
"""

from tb_embedanalysis.queries.rules import (  # noqa: F401
    AUTO_METRIC, DEFAULT_K, HARD_EXAMPLE_METHODS, HISTORY_METHOD, MAX_K, MAX_LIMIT, MAX_OFFSET, MAX_SEARCH_LIMIT,
    METRIC_CHOICES, WORK_MEMORY_FLAGS, LabelQuestion, Pending, check_choice, check_hard_method, check_k,
    check_metric, check_range, check_work_memory, label_question, labels_of, metadata_row, resolve_metric, resolve_query, space, text_column, valid_count,
)
from tb_embedanalysis.queries.workspace import Workspace  # noqa: F401
from tb_embedanalysis.queries.questions import (  # noqa: F401
    clusters, compare, hard_examples, metadata_column, neighbors, projection_json, runs, search,
    thumbnail,
)
from tb_embedanalysis.queries.maps import projection  # noqa: F401 - the map, its settings, UMAP's preview as JSON
from tb_embedanalysis.queries.history import (  # noqa: F401
    history, history_hard_examples, history_spaces, ranked_examples,
)
from tb_embedanalysis.queries.tags import (  # noqa: F401
    check_hide, corrected_metadata, tags, tags_table, write_tags,
)
from tb_embedanalysis.queries.quality import (  # noqa: F401
    check_threshold, duplicates, outliers,
)
from tb_embedanalysis.queries.changes import aligned, churn  # noqa: F401
from tb_embedanalysis.queries.movement import mark_still  # noqa: F401
from tb_embedanalysis.queries import subsets  # noqa: F401 - rows=: a selection isolated (subsets.clusters, .neighbors)
from tb_embedanalysis.queries.quick import quick_clusters  # noqa: F401
from tb_embedanalysis.analysis.jobs import Cancelled  # noqa: F401 - a job stopped: the server is exiting
