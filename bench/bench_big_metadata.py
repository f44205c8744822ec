"""Peak memory and time of big metadata files and of cold sprite thumbnails (issue 12, items 5 and 7).

Each case runs in a child process (its VmHWM is its own) and prints one JSON line:

  parse-2col   read_metadata of 5M rows x 2 columns (unique index, 10-value label), ~200 MB
  parse-words  read_metadata of one column of unique words, ~200 MB
  runs         GET /runs twice through the WSGI app, the embedding having a 200 MB metadata
  thumbs       8 concurrent cold GET /thumbnail on one 8192x8192 RGB sprite

    python bench/bench_big_metadata.py [--cases parse-2col,parse-words,runs,thumbs] [--dir /tmp/x]
    python bench/bench_big_metadata.py --smoke    # seconds: 20,000 rows, a 512 px sprite

The files are written once into --dir (default: a temp dir under /tmp) and reused; a smoke
run writes its small files into a temporary directory of its own.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import _support

ROWS_2COL = 5_000_000
WORDS = 10_000_000
SPRITE_PX = 8192
THUMB_PX = 128


def smoke_sizes():
    """--smoke (in the parent and in each child): small files, same code."""
    global ROWS_2COL, WORDS, SPRITE_PX
    ROWS_2COL, WORDS, SPRITE_PX = 20_000, 20_000, 512


def status_mb(field):
    """VmRSS (now) or VmHWM (peak) of this process in MB (not ru_maxrss: see bench_neighbors)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no %s in /proc/self/status" % field)


def write_config(run_dir, name, rows, dims):
    with open(os.path.join(run_dir, "projector_config.pbtxt"), "w") as f:
        f.write('embeddings {\n  tensor_name: "%s"\n  tensor_path: "%s.bytes"\n  tensor_shape: %d\n'
                '  tensor_shape: %d\n  metadata_path: "%s.tsv"\n}\n' % (name, name, rows, dims, name))


def write_tensor(path, rows, dims):
    if not os.path.exists(path):
        np.random.default_rng(0).random((rows, dims), dtype=np.float32).tofile(path)


def write_2col(path):
    """Unique ``sample_0000001`` index + one of 10 ``class_label_number_N`` labels: ~37 B/row."""
    if os.path.exists(path):
        return
    rows = ROWS_2COL
    with open(path, "w") as f:
        f.write("index\tlabel\n")
        block = 100_000
        for start in range(0, rows, block):
            f.write("".join("sample_%07d\tclass_label_number_%d\n" % (i, i % 10)
                            for i in range(start, min(rows, start + block))))


def write_words(path):
    if os.path.exists(path):
        return
    words = WORDS
    with open(path, "w") as f:
        block = 100_000
        for start in range(0, words, block):
            f.write("".join("word%015d\n" % i for i in range(start, min(words, start + block))))


def prepare(root, case):
    if case == "parse-2col":
        path = os.path.join(root, "two_columns.tsv")
        write_2col(path)
        return path
    if case == "parse-words":
        path = os.path.join(root, "words.tsv")
        write_words(path)
        return path
    if case == "runs":
        logdir = os.path.join(root, "runs_logdir")
        run = os.path.join(logdir, "big")
        os.makedirs(run, exist_ok=True)
        write_tensor(os.path.join(run, "big.bytes"), ROWS_2COL, 4)
        write_2col(os.path.join(run, "big.tsv"))
        write_config(run, "big", ROWS_2COL, 4)
        return logdir
    if case == "thumbs":
        from PIL import Image

        logdir = os.path.join(root, "thumbs_logdir")
        run = os.path.join(logdir, "sprite")
        os.makedirs(run, exist_ok=True)
        rows = (SPRITE_PX // THUMB_PX) ** 2  # 64x64 thumbnails of 128 px fill the 8192 px sprite
        write_tensor(os.path.join(run, "sprite.bytes"), rows, 4)
        sprite = os.path.join(run, "sprite.png")
        if not os.path.exists(sprite):
            # A gradient pattern: realistic decoded size (RGB = 4 bytes/px in Pillow), small file.
            x = np.arange(SPRITE_PX, dtype=np.uint16)
            plane = ((x[:, None] + x[None, :]) % 256).astype(np.uint8)
            Image.fromarray(np.dstack([plane, plane[::-1], plane.T])).save(sprite)
        with open(os.path.join(run, "projector_config.pbtxt"), "w") as f:
            f.write('embeddings {\n  tensor_name: "sprite"\n  tensor_path: "sprite.bytes"\n'
                    '  tensor_shape: %d\n  tensor_shape: 4\n  sprite {\n    image_path: "sprite.png"\n'
                    '    single_image_dim: %d\n    single_image_dim: %d\n  }\n}\n' % (rows, THUMB_PX, THUMB_PX))
        return logdir
    raise SystemExit("unknown case %r" % case)


def client_for(logdir):
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=2048.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=logdir, flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def child(case, target):
    prefix = "/data/plugin/embedanalysis"
    if case.startswith("parse"):
        from tb_embedanalysis.logs.metadata import read_metadata

        rows = ROWS_2COL if case == "parse-2col" else WORDS
        base = status_mb("VmHWM")
        start = time.perf_counter()
        metadata, _ = read_metadata(target, num_rows=rows, tensor_name="bench")
        seconds = time.perf_counter() - start
        result = {"seconds": seconds, "held_mb": status_mb("VmRSS") - base}
        nbytes = getattr(metadata, "nbytes", None)
        if nbytes is not None:
            result["counted_mb"] = nbytes / 2**20
    elif case == "runs":
        client = client_for(target)
        base = status_mb("VmHWM")
        times, answers = [], []
        for _ in range(2):
            start = time.perf_counter()
            response = client.get(prefix + "/runs")
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_data(as_text=True)
            answers.append(response.get_json())
        entry = answers[-1]["runs"][0]["embeddings"][0]
        result = {"first_s": times[0], "second_s": times[1], "entry": entry}
    else:
        client = client_for(target)
        query = "?run=sprite&embedding=sprite&index=%d"
        client.get(prefix + "/neighbors" + query % 0)  # loads the embedding (not the sprite)
        base = status_mb("VmHWM")
        statuses = []
        start = time.perf_counter()
        threads = [threading.Thread(target=lambda i=i: statuses.append(
            client.get(prefix + "/thumbnail" + query % i).status_code)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result = {"seconds": time.perf_counter() - start, "statuses": sorted(statuses)}
    result.update(case=case, baseline_mb=base, peak_mb=status_mb("VmHWM"))
    result["growth_mb"] = result["peak_mb"] - base
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="parse-2col,parse-words,runs,thumbs")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "bench_big_metadata"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    _support.add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        smoke_sizes()
    if args.child:
        child(*args.child)
        return 0
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="bench-big-metadata-smoke-") as scratch:
            return run_cases(scratch, args.cases.split(","), ["--smoke"])
    os.makedirs(args.dir, exist_ok=True)
    return run_cases(args.dir, args.cases.split(","), [])


def run_cases(root, cases, flags):
    """Each case in a child process; 1 if any child failed (its stderr is printed)."""
    failed = 0
    for case in cases:
        target = prepare(root, case)
        done = subprocess.run([sys.executable, __file__, "--child", case, target, *flags], capture_output=True,
                              text=True)
        print(done.stdout.strip() or done.stderr.strip()[-2000:])
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
