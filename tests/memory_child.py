"""Child process for the memory tests: one case, under RLIMIT_AS, prints one JSON line.

    python tests/memory_child.py CASE DIR

The address-space limit is the child's size after start-up plus a budget, so a regression
(decoding a sprite per request, holding a big metadata as lists of str) ends in a
MemoryError or a 5xx in this process instead of exhausting the shared machine. Peak memory
is VmHWM from /proc (ru_maxrss would carry the parent's peak over fork + exec).
"""

import argparse
import json
import os
import resource
import sys
import threading
import time

import numpy as np

PREFIX = "/data/plugin/embedanalysis"
ADDRESS_SPACE_BUDGET_MB = 1536  # virtual: thread stacks and malloc arenas count here too
SPRITE_PX = 8192
THUMB_PX = 128
META_ROWS = 1_000_000  # ~37 MB of metadata: 1/5 of the 200 MB file


def status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no %s in /proc/self/status" % field)


def reset_peak() -> float:
    """Forget the peak so far (writing the test data), so VmHWM from here is what we measure;
    returns the resident size now, the baseline. Linux >= 4.0: clear_refs 5 resets VmHWM."""
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_mb("VmRSS")


def limit_address_space(budget_mb: float = ADDRESS_SPACE_BUDGET_MB) -> None:
    limit = int((status_mb("VmSize") + budget_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def client_for(logdir: str, max_memory_mb: float = 2048.0, **flags_given):
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=max_memory_mb,
                               **{"embedanalysis_" + name: value for name, value in flags_given.items()})
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=logdir, flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def write_config(run_dir: str, rows: int, *, sprite: bool = False) -> None:
    text = 'embeddings {\n  tensor_name: "emb"\n  tensor_path: "emb.bytes"\n  tensor_shape: %d\n  tensor_shape: 4\n' % rows
    text += '  metadata_path: "metadata.tsv"\n' if not sprite else (
        '  sprite {\n    image_path: "sprite.png"\n    single_image_dim: %d\n    single_image_dim: %d\n  }\n'
        % (THUMB_PX, THUMB_PX))
    with open(os.path.join(run_dir, "projector_config.pbtxt"), "w") as f:
        f.write(text + "}\n")


def write_big_metadata(path: str, rows: int) -> None:
    """A unique index column and a 10-value label column, ~37 bytes a row."""
    with open(path, "w") as f:
        f.write("index\tlabel\n")
        for start in range(0, rows, 100_000):
            f.write("".join("sample_%07d\tclass_label_number_%d\n" % (i, i % 10)
                            for i in range(start, min(rows, start + 100_000))))


def write_sprite_run(run: str) -> None:
    """An 8192x8192 RGB sprite (~0.5 MB of PNG, 256 MB decoded) of 4,096 128-px thumbnails."""
    from PIL import Image

    os.makedirs(run)
    rows = (SPRITE_PX // THUMB_PX) ** 2
    np.random.default_rng(0).random((rows, 4), dtype=np.float32).tofile(os.path.join(run, "emb.bytes"))
    x = np.arange(SPRITE_PX, dtype=np.uint16)
    plane = ((x[:, None] + x[None, :]) % 256).astype(np.uint8)  # compressible: a small file, a full decode
    Image.fromarray(np.dstack([plane, plane[::-1], plane.T])).save(os.path.join(run, "sprite.png"), compress_level=1)
    del x, plane
    write_config(run, rows, sprite=True)


def thumbnails(root: str) -> dict:
    """8 concurrent cold /thumbnail requests on one 8192x8192 RGB sprite."""
    write_sprite_run(os.path.join(root, "sprite"))
    client = client_for(root)
    query = PREFIX + "/thumbnail?run=sprite&embedding=emb&index=%d"
    assert client.get(PREFIX + "/runs").status_code == 200  # loads the embedding, not the sprite
    limit_address_space()
    base = reset_peak()
    statuses = []
    threads = [threading.Thread(target=lambda i=i: statuses.append(client.get(query % (i * 97)).status_code))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": sorted(statuses), "growth_mb": status_mb("VmHWM") - base}


def big_metadata_runs(root: str) -> dict:
    """/runs (twice) on an embedding whose metadata is ~37 MB, then one full load (/metadata)."""
    run = os.path.join(root, "big")
    os.makedirs(run)
    np.random.default_rng(0).random((META_ROWS, 4), dtype=np.float32).tofile(os.path.join(run, "emb.bytes"))
    write_big_metadata(os.path.join(run, "metadata.tsv"), META_ROWS)
    write_config(run, META_ROWS)
    short = os.path.join(root, "short")  # one row too few: /runs must still say so
    os.makedirs(short)
    np.zeros((META_ROWS + 1, 4), dtype=np.float32).tofile(os.path.join(short, "emb.bytes"))
    os.link(os.path.join(run, "metadata.tsv"), os.path.join(short, "metadata.tsv"))
    write_config(short, META_ROWS + 1)
    client = client_for(root)
    limit_address_space()
    base = reset_peak()
    times, bodies = [], []
    for _ in range(2):
        start = time.perf_counter()
        response = client.get(PREFIX + "/runs")
        times.append(time.perf_counter() - start)
        bodies.append(response.get_json())
    runs_growth = status_mb("VmHWM") - base
    runs = {r["run"]: r["embeddings"][0] for r in bodies[-1]["runs"]}
    column = client.get(PREFIX + "/metadata?run=big&embedding=emb&column=label")  # loads it all
    if column.status_code == 200:
        body = column.get_json()  # the column as it is held: categories + a code per row
        rows, row_7 = len(body["codes"]), body["categories"][body["codes"][7]]
    else:
        rows, row_7 = 0, column.get_data(as_text=True)
    return {"seconds": times, "runs": runs, "runs_growth_mb": runs_growth, "metadata_status": column.status_code,
            "metadata_rows": rows, "metadata_row_7": row_7, "load_growth_mb": status_mb("VmHWM") - base}


def parse(root: str) -> dict:
    """read_metadata of the ~37 MB two-column file: peak and what stays held."""
    from tb_embedanalysis.logs.metadata import read_metadata

    path = os.path.join(root, "metadata.tsv")
    write_big_metadata(path, META_ROWS)
    limit_address_space()
    base = reset_peak()
    metadata, _ = read_metadata(path, num_rows=META_ROWS, tensor_name="emb")
    assert len(metadata) == META_ROWS and metadata.row(7) == {"index": "sample_0000007", "label": "class_label_number_7"}
    return {"growth_mb": status_mb("VmHWM") - base, "held_mb": status_mb("VmRSS") - base}


def distinct_thumbnails(root: str, *, sprites: int = 8, address_space_mb: float = ADDRESS_SPACE_BUDGET_MB,
                        **flags) -> dict:
    """`sprites` concurrent cold /thumbnail requests, each on its own 8192x8192 RGB sprite
    (copies of one file in `sprites` runs: distinct files, each decoded on its own)."""
    import shutil

    write_sprite_run(os.path.join(root, "s0"))
    for i in range(1, sprites):
        shutil.copytree(os.path.join(root, "s0"), os.path.join(root, "s%d" % i))
    client = client_for(root, **flags)
    assert client.get(PREFIX + "/runs").status_code == 200  # loads the embeddings, not the sprites
    limit_address_space(address_space_mb)
    base = reset_peak()
    answers: list = []
    start = time.perf_counter()

    def ask(i):
        response = client.get(PREFIX + "/thumbnail?run=s%d&embedding=emb&index=%d" % (i, i * 97))
        answers.append((response.status_code, response.get_data() if response.status_code == 200
                        else response.get_json()["error"]))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(sprites)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": sorted(a[0] for a in answers), "errors": sorted({a[1] for a in answers if a[0] != 200}),
            "growth_mb": status_mb("VmHWM") - base, "seconds": time.perf_counter() - start}


def poll(client, path: str, timeout: float = 600.0) -> dict:
    """GET `path` until it stops answering 202: status, body, seconds, progress messages seen."""
    start = time.perf_counter()
    seen: list = []
    while True:
        response = client.get(PREFIX + path)
        body = response.get_json()
        if response.status_code != 202 or time.perf_counter() - start > timeout:
            return {"status": response.status_code, "body": body, "seconds": time.perf_counter() - start,
                    "progress": seen}
        if not seen or seen[-1][1] != body["message"] or body["progress"] - seen[-1][0] >= 0.1:
            seen.append([round(body["progress"], 3), body["message"]])
        time.sleep(0.2)


def write_vectors_run(run: str, vectors: np.ndarray, labels=None) -> None:
    from tb_embedanalysis import write_embedding

    write_embedding(run, vectors, name="emb", metadata=None if labels is None else {"label": labels})


def duplicates_refusal(root: str, *, address_space_mb: float = ADDRESS_SPACE_BUDGET_MB, **flags) -> dict:
    """/duplicates?threshold=2 on 70,000 x 64 (no labels: cosine, so every pair is within 2)."""
    write_vectors_run(os.path.join(root, "dup"), np.random.default_rng(0).normal(size=(70_000, 64)).astype(np.float32))
    client = client_for(root, **flags)
    limit_address_space(address_space_mb)
    base = reset_peak()
    result = poll(client, "/duplicates?run=dup&embedding=emb&threshold=2")
    result["growth_mb"] = status_mb("VmHWM") - base
    return result


def clusters_k(root: str, *, n: int = 100_000, k: int = 1000, address_space_mb: float = ADDRESS_SPACE_BUDGET_MB,
               **flags) -> dict:
    """/clusters?k=`k` on n x 64 vectors in 10 labelled blobs."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n)
    x = (rng.normal(size=(n, 64)) + 3 * rng.normal(size=(10, 64))[y]).astype(np.float32)
    write_vectors_run(os.path.join(root, "big"), x, [str(v) for v in y])
    del x
    client = client_for(root, **flags)
    # The sweep's numba kernel is compiled once per process (LLVM's memory, not this
    # computation's working memory): compile it before the peak is measured.
    from tb_embedanalysis.analysis import topk_fold

    topk_fold.warm()
    limit_address_space(address_space_mb)
    base = reset_peak()
    result = poll(client, "/clusters?run=big&embedding=emb&metric=euclidean&k=%d" % k)
    if result["status"] == 200:
        result["body"] = {"overall": result["body"]["overall"]}
    result["growth_mb"] = status_mb("VmHWM") - base
    return result


def subset_bombs(root: str, *, address_space_mb: float = 256.0, **flags) -> dict:
    """`rows=` asking for 10^8 rows, and 56,000 characters of rows, on a 500-row embedding:
    each must be refused from its text, before any row list is built (statuses, errors,
    growth of the peak)."""
    rng = np.random.default_rng(0)
    write_vectors_run(os.path.join(root, "run"), rng.normal(size=(500, 8)).astype(np.float32),
                      [str(v) for v in rng.integers(0, 3, 500)])
    client = client_for(root, **flags)
    poll(client, "/clusters?run=run&embedding=emb&k=5")  # warm: the embedding loaded, the routes imported
    limit_address_space(address_space_mb)
    base = reset_peak()
    answers = []
    for rows in ("0-99999999", ",".join(["123456"] * 8000)):
        response = client.get(PREFIX + "/clusters?run=run&embedding=emb&rows=" + rows)
        answers.append({"status": response.status_code, "error": response.get_json()["error"]})
    return {"answers": answers, "growth_mb": status_mb("VmHWM") - base}


CASES = {"subset_bombs": subset_bombs, "thumbnails": thumbnails, "big_metadata_runs": big_metadata_runs, "parse": parse,
         "distinct_thumbnails": distinct_thumbnails, "duplicates_refusal": duplicates_refusal,
         "clusters_k": clusters_k}

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}  # keyword arguments of the case
    print(json.dumps(CASES[sys.argv[1]](sys.argv[2], **options)))
