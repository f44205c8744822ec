"""`tb-embedanalysis neighbors`: the nearest neighbours of a row or a metadata value (a word).

Without --run/--embedding it answers from the first embedding, saying which and how to
pick another.
"""

import json
import sys

from tb_embedanalysis import cli_common, queries
from tb_embedanalysis.jsonable import to_jsonable


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
    if len(candidates) > 1:
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


def _describe_row(metadata: dict) -> str:
    return " ".join("%s=%s" % item for item in metadata.items()) if len(metadata) > 1 else "".join(metadata.values())
