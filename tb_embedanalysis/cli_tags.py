"""`tb-embedanalysis tags`: the tags and corrected labels given in the tab, from the command line.

Reads the same database the tab writes (tags.sqlite3 in the cache directory, the tab's
default unless --cache-dir says otherwise) through the same queries functions as
GET /tags and /export?what=tags, so the JSON, CSV and TSV are the routes' own.
"""

import json
import sys

from tb_embedanalysis import errors, queries
from tb_embedanalysis.jsonable import to_jsonable


def add_tags_parser(sub) -> None:
    tags = sub.add_parser("tags", help="tags and corrected labels given in the tab (list or export)")
    tags.add_argument("logdir", help="a TensorBoard logdir holding projector logs")
    tags.add_argument("--run", required=True, help="run (directory relative to LOGDIR, '.' for LOGDIR itself)")
    tags.add_argument("--embedding", required=True, help="embedding name (as the tab lists it)")
    tags.add_argument("--step", type=int, help="training step (default: the latest)")
    tags.add_argument("--label-column", help="metadata column the corrections replace (default: guessed)")
    tags.add_argument("--cache-dir", help="the tab's --embedanalysis_cache_dir (default: the tab's default)")
    tags.add_argument("--export", choices=("json", "csv", "metadata"), default="json",
                      help="json: GET /tags' answer; csv: the tags as a table; metadata: metadata.tsv with a "
                      "column of corrected labels appended")
    tags.set_defaults(func=cmd_tags)


def cmd_tags(args) -> int:
    import os

    from tb_embedanalysis.tags import DB_NAME, TagStore, default_cache_dir

    if not os.path.isdir(args.logdir):
        raise errors.NotFound("logdir %s does not exist" % args.logdir)
    cache_dir = args.cache_dir or default_cache_dir()
    if not os.path.isfile(os.path.join(cache_dir, DB_NAME)):  # never create one just to say it is empty
        print("tb-embedanalysis: note: no tags in %s yet" % cache_dir, file=sys.stderr)
        store = TagStore(None)
    else:
        # Read only, nothing created or changed; not an empty store in memory when it cannot
        # be opened: the user asked for these. Its errors (TagStoreError) name the file: exit 2.
        store = TagStore(cache_dir, strict=True, read_only=True)
    try:
        workspace = queries.Workspace.open(args.logdir, tags=store)
        embedding = workspace.load(args.run, args.embedding, args.step)
        _print_tags(store, embedding, args)
    finally:
        store.close()
    return 0


def _print_tags(store, embedding, args) -> None:
    from tb_embedanalysis import exports

    if args.export == "metadata":
        sys.stdout.write(queries.corrected_metadata(store, embedding, args.label_column))
    elif args.export == "csv":
        body, _ = exports.render("tags", "csv", queries.tags_table(store, embedding, args.label_column))
        sys.stdout.write(body.decode("utf-8"))
    else:
        json.dump(to_jsonable(queries.tags(store, embedding)), sys.stdout, ensure_ascii=False, indent=1)
        print()
