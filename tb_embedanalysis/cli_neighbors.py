"""`tb-embedanalysis neighbors`: the nearest neighbours of a row or a metadata value (a word).

Without --run/--embedding it answers from the first embedding, saying which and how to
pick another; a --query is looked up in every embedding first, and answered from the first
that has it (the others that have it are named), or, when none has it, "did you mean"
with each close spelling's embedding.
"""

import json
import sys
from typing import Any, List, Tuple

from tb_embedanalysis import cli_common, errors, queries
from tb_embedanalysis.jsonable import to_jsonable
from tb_embedanalysis.logs.errors import LogError
from tb_embedanalysis.quoting import excerpt

SUGGESTIONS = 10  # close spellings named when no embedding has the word


def add_neighbors_parser(sub, common) -> None:
    neighbors = sub.add_parser("neighbors", help="nearest neighbours of a point or a word")
    common(neighbors)
    which = neighbors.add_mutually_exclusive_group(required=True)
    which.add_argument("--query", help="a metadata value, e.g. a word")
    which.add_argument("--index", type=int, help="a row number")
    neighbors.add_argument("--column", help="metadata column to look --query up in")
    neighbors.add_argument("--format", choices=("text", "json"), default="text")
    neighbors.set_defaults(func=cmd_neighbors)


def cmd_neighbors(args) -> int:
    workspace = cli_common.open_workspace(args)
    candidates = cli_common.matching_series(workspace, args)
    if args.query is not None and len(candidates) > 1:
        candidates = _having(workspace, candidates, args)
    elif len(candidates) > 1:
        others = "; ".join(cli_common.choice(series) for series in candidates[1:])
        print("tb-embedanalysis: %d embeddings found; answering from %s/%s. Pick another with %s"
              % (len(candidates), candidates[0].run, candidates[0].name, others), file=sys.stderr)
    embedding = cli_common.load(workspace, candidates[0], args)
    result = queries.neighbors(workspace.engine, embedding, index=args.index, query=args.query,
                               column=args.column, k=args.k, metric=args.metric)
    if args.format == "json":
        json.dump(to_jsonable(result), sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    query = result["query"]
    print("nearest to #%d %s (%s%s):" % (query["index"], _describe_row(query["metadata"]), result["metric"],
                                         ", exact" if result["exact"] else ", approximate"))
    for rank, neighbor in enumerate(result["neighbors"], 1):
        print("%3d. %-10.4f #%-7d %s" % (rank, neighbor["distance"], neighbor["index"], _describe_row(neighbor["metadata"])))
    return 0


def _having(workspace: queries.Workspace, candidates: list, args) -> list:
    """The candidates whose --column (default: each one's word column) holds --query, first
    the one answered from; says on stderr which others have it. None has it: NotFound with
    the close spellings of all of them, each with the embedding that has it."""
    having: List[Tuple[Any, int]] = []  # (EmbeddingSeries, rows matched): the catalog's type, named through queries only
    close: List[Tuple[str, str]] = []  # (spelling, run/name)
    for series in candidates:
        try:
            embedding = workspace.load(series.run, series.name, args.step)
            _, matches = queries.resolve_query(embedding, index=None, query=args.query, column=args.column)
        except errors.NotFound as error:  # no row has it (or no such column): its close spellings
            close += [(word, "%s/%s" % (series.run, series.name)) for word in error.details.get("suggestions", [])]
            continue
        except (errors.QueryError, LogError):  # no metadata, or it cannot be loaded: it cannot have the word
            continue
        having.append((series, matches))
    if not having:
        spelled = list(dict.fromkeys(close))[:SUGGESTIONS]
        hint = ("; did you mean %s?" % ", ".join("%s (%s)" % (excerpt(word), where) for word, where in spelled)
                if spelled else "; nothing is spelled like it")
        raise errors.NotFound("no embedding has %s (looked in %d: %s)%s" % (
            excerpt(args.query), len(candidates), ", ".join("%s/%s" % (s.run, s.name) for s in candidates), hint))
    first = having[0][0]
    others = "; ".join(cli_common.choice(series) for series, _ in having[1:])
    print("tb-embedanalysis: %s is in %d of %d embeddings; answering from %s/%s%s"
          % (excerpt(args.query), len(having), len(candidates), first.run, first.name,
             ". Also in: " + others if others else ""), file=sys.stderr)
    return [series for series, _ in having]


def _describe_row(metadata: dict) -> str:
    return " ".join("%s=%s" % item for item in metadata.items()) if len(metadata) > 1 else "".join(metadata.values())
