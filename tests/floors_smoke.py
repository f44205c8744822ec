"""A smoke test run *inside* a venv holding the lowest declared dependencies (test_install_floors.py).

    VENV/bin/python floors_smoke.py WORKDIR

Uses only the installed package and what it requires (no pytest, no TensorFlow): the
writer, the scalars writer, the CLI (`tb-embedanalysis analyze` and `quality`, as a user
runs them) and every analysis route through TensorBoard's own WSGI app, including the
three maps (PCA, openTSNE, umap-learn on our kNN graph). Prints one line per check and
exits non-zero at the first failure.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from importlib import metadata

import numpy as np

PREFIX = "/data/plugin/embedanalysis"


def check(what, condition, detail=""):
    if not condition:
        print("FAILED: %s %s" % (what, detail), flush=True)
        sys.exit(1)
    print("ok:", what, flush=True)


def write_logs(logdir):
    import tb_embedanalysis
    from tb_embedanalysis import log_cluster_scalars, write_embedding

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    images = rng.random((120, 6, 6))
    for step, spread in ((1, 2.0), (2, 0.5)):
        vectors = rng.normal(scale=spread, size=(120, 8)) + 4.0 * np.eye(8)[labels]
        write_embedding(logdir, vectors, name="e", step=step, images=images, invert_images=True,
                        metadata={"Index": range(120), "Label": [str(v) for v in labels]})
        log_cluster_scalars(logdir, vectors, labels, step=step, name="e", k=5)
    write_embedding(logdir, np.arange(32.0).reshape(4, 8) % 5, name="words", metadata=["a", "b", "c", "d"])
    check("write_embedding and log_cluster_scalars (version %s)" % tb_embedanalysis.__version__,
          "tensorflow" not in sys.modules)
    sprite = tb_embedanalysis.make_sprite(rng.random((9, 4, 4)), max_size=6, downscale=True)  # Pillow's resize
    check("make_sprite(downscale=True)", sprite.size == (6, 6), sprite.size)


def run_cli(*args):
    script = os.path.join(os.path.dirname(sys.executable), "tb-embedanalysis")
    done = subprocess.run([script, *args], capture_output=True, text=True, timeout=300)
    check("tb-embedanalysis %s" % " ".join(args[:1] + args[2:]), done.returncode == 0, done.stderr[-2000:])
    return done.stdout


def check_cli(logdir):
    out = json.loads(run_cli("analyze", logdir, "--run", "run", "--embedding", "e", "--step", "2", "--format", "json"))
    overall = out["clusters"]["overall"]
    check("analyze: kNN accuracy of separated clusters", overall["knn_accuracy"] > 0.95, overall)
    check("analyze: hard examples answered", "examples" in out["hard_examples"], list(out["hard_examples"]))
    text = run_cli("quality", logdir, "--run", "run", "--embedding", "e", "--outliers")
    check("quality --outliers", "outliers" in text, text[:500])


def get_json(client, route, query, *, deadline=240.0):
    end = time.monotonic() + deadline
    while True:  # 202 while a job runs
        response = client.get(PREFIX + route, query_string=query)
        body = json.loads(response.get_data(as_text=True))
        if response.status_code != 202 or time.monotonic() > end:
            check("GET %s %s" % (route, query.get("method", "")), response.status_code == 200, body)
            return body
        time.sleep(0.1)


def check_routes(logdir, cache_dir):
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    points = metadata.entry_points()  # Python 3.9: a dict of groups; 3.10+: select()
    group = points.select(group="tensorboard_plugins") if hasattr(points, "select") else points["tensorboard_plugins"]
    (entry,) = [e for e in group if e.name == "embedanalysis"]
    flags = argparse.Namespace(embedanalysis_cache_dir=cache_dir)
    plugin = entry.load()().load(base_plugin.TBContext(logdir=logdir, flags=flags))
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin]))
    runs = get_json(client, "/runs", {})
    check("/runs lists both embeddings", "words" in json.dumps(runs) and '"e"' in json.dumps(runs), runs)
    query = {"run": "run", "embedding": "e", "step": "2"}
    clusters = get_json(client, "/clusters", query)
    check("/clusters", clusters["overall"]["num_labels"] == 3, clusters["overall"])
    get_json(client, "/hard_examples", query)
    get_json(client, "/neighbors", {**query, "index": "0", "k": "5"})
    get_json(client, "/search", {**query, "q": "^1$", "column": "Label"})
    get_json(client, "/compare", {"run": "run", "embedding": "e"})
    export = client.get(PREFIX + "/export", query_string={**query, "what": "clusters", "format": "csv"})
    check("/export csv", export.status_code == 200 and b"label" in export.get_data()[:200], export.get_data()[:300])
    for method in ("pca", "tsne", "umap"):
        body = get_json(client, "/projection", {**query, "method": method, "format": "json"})
        check("/projection %s places every point" % method, len(body["coords"]) == 120, list(body))
    thumbnail = client.get(PREFIX + "/thumbnail", query_string={**query, "index": "3"})
    check("/thumbnail", thumbnail.status_code == 200 and thumbnail.get_data()[:4] == b"\x89PNG")
    page = client.get(PREFIX + "/index.js")  # the tab's ES module (FrontendMetadata)
    check("frontend served", page.status_code == 200 and b"import" in page.get_data())


def check_fold():
    """The exact search's numba kernel (analysis/topk_fold.py) at numba's floor: the 5 smallest
    keys of each row, folded over uneven column blocks, are a stable sort's first 5."""
    from tb_embedanalysis.analysis import topk_fold

    rng = np.random.default_rng(1)
    m, n, kk = 7, 300, 5
    dots = np.round(rng.normal(size=(m, n)), 1).astype(np.float32)
    scale = np.ones(n, dtype=np.float32)
    best = topk_fold.Running.start(m, kk, n)
    for c0, c1 in ((0, 70), (70, 71), (71, n)):
        topk_fold.fold(np.ascontiguousarray(dots[:, c0:c1]), scale[c0:c1], False, np.zeros(c1 - c0, dtype=bool),
                       np.full(m, -1, dtype=np.int64), c0, best)
    rows, _ = topk_fold.ordered(best)
    want = np.argsort(dots, axis=1, kind="stable")[:, :kk]
    check("topk_fold's numba kernel (numba %s)" % metadata.version("numba"), np.array_equal(rows, want), (rows, want))


def main():
    workdir = sys.argv[1]
    check_fold()
    logdir = os.path.join(workdir, "logs", "run")
    write_logs(logdir)
    check_cli(os.path.dirname(logdir))
    check_routes(os.path.dirname(logdir), os.path.join(workdir, "cache"))
    versions = {name: metadata.version(name) for name in ("tb-embedanalysis", "tensorboard", "numpy", "scikit-learn", "numba")}
    print("smoke test passed with", versions, flush=True)


if __name__ == "__main__":
    main()
