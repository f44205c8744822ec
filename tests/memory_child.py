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


def client_for(logdir: str, max_memory_mb: float = 2048.0):
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=max_memory_mb)
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


def thumbnails(root: str) -> dict:
    """8 concurrent cold /thumbnail requests on one 8192x8192 RGB sprite."""
    from PIL import Image

    run = os.path.join(root, "sprite")
    os.makedirs(run)
    rows = (SPRITE_PX // THUMB_PX) ** 2
    np.random.default_rng(0).random((rows, 4), dtype=np.float32).tofile(os.path.join(run, "emb.bytes"))
    x = np.arange(SPRITE_PX, dtype=np.uint16)
    plane = ((x[:, None] + x[None, :]) % 256).astype(np.uint8)  # compressible: a small file, a full decode
    Image.fromarray(np.dstack([plane, plane[::-1], plane.T])).save(os.path.join(run, "sprite.png"), compress_level=1)
    del x, plane
    write_config(run, rows, sprite=True)
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


CASES = {"thumbnails": thumbnails, "big_metadata_runs": big_metadata_runs, "parse": parse}

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(json.dumps(CASES[sys.argv[1]](sys.argv[2])))
