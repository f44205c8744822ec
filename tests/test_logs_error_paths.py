"""Every error path of the store and the sprite reader, on both sides of the listing threshold.

/runs describes an embedding whose files total at most `listing.LOAD_BELOW_BYTES` (16 MB) by
loading it, and a bigger one from cheap facts (logs/listing.py): two code paths, so each broken
file is written small and big. Issue 23 item 2: a renamed helper left a NameError on the big
path only, and one broken file above 16 MB answered 422 "runs failed" for the whole logdir.

Each time: /runs lists the broken embedding with its own error or warning (naming the file
relative to the logdir), the healthy embedding beside it is listed as before, a data route
answers a 4xx JSON naming the file, and nothing answers 500.
"""

import argparse
import json
import os
import pathlib
import threading
import time

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from werkzeug import test as werkzeug_test

from logs_fixtures import write_bytes_run, write_sprite, write_tsv
from no_bugs import assert_not_a_bug
from tb_embedanalysis.logs import EmbeddingStore, LogError, TensorFormatError, discover, find_ref, listing
from tb_embedanalysis.logs import sprites, tensors
from tb_embedanalysis.logs import store as store_module
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
D = 256
# Rows of D float32 just past the threshold: 16,448 x 256 x 4 = 16.8 MB.
BIG_ROWS = listing.LOAD_BELOW_BYTES // (D * 4) + 64
SIZES = {"small": (60, 8), "big": (BIG_ROWS, D)}


def make_client(logdir):
    flags = argparse.Namespace(embedanalysis_cache_dir="none", embedanalysis_max_memory_mb=256.0)
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=flags))
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def get(client, route, **query):
    """(status, JSON body or bytes), polling 202s for a bounded time."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get(PREFIX + route, query_string=query)
        assert_not_a_bug(response, (route, query))
        if response.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    body = response.get_data()
    if response.headers["Content-Type"].startswith("application/json"):
        body = json.loads(body)
    return response.status_code, body


def matrix(size):
    rows, columns = SIZES[size]
    # Not random: the error paths do not look at values, and 17 MB of normals is slow to draw.
    return np.tile(np.arange(columns, dtype=np.float32), (rows, 1)) + np.arange(rows, dtype=np.float32)[:, None]


def add_entry(run_dir, *, name, tensor_path, shape=None, metadata_path=None):
    """Append an embedding to the run's projector_config.pbtxt (as any writer would)."""
    config, config_path = ProjectorConfig(), os.path.join(run_dir, "projector_config.pbtxt")
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as handle:
            text_format.Parse(handle.read(), config)
    entry = config.embeddings.add()
    entry.tensor_name, entry.tensor_path = name, tensor_path
    if shape is not None:
        entry.tensor_shape.extend(shape)
    if metadata_path:
        entry.metadata_path = metadata_path
    with open(config_path, "w", encoding="utf-8") as handle:
        handle.write(text_format.MessageToString(config))


def write_tsv_tensor(run_dir, name, rows, columns, *, header=None, shape=None):
    """A TSV tensor (tensorboardX's kind), optionally with a header line no TSV tensor may have.
    Rows differ by their first value only: 25 MB of TSV in milliseconds."""
    os.makedirs(os.path.join(run_dir, name), exist_ok=True)
    rest = "\t".join("%.9g" % (j + 0.5) for j in range(1, columns))
    with open(os.path.join(run_dir, name, "tensors.tsv"), "w", encoding="utf-8") as handle:
        if header:
            handle.write("\t".join(header) + "\n")
        handle.write("".join("%d\t%s\n" % (i, rest) for i in range(rows)))
    add_entry(run_dir, name=name, tensor_path=os.path.join(name, "tensors.tsv"), shape=shape)


def write_noise_sprite(path, rows, size):
    """A sprite of noise thumbnails: it compresses badly, so damage lands in the pixel data."""
    columns = int(np.ceil(np.sqrt(rows)))
    pixels = np.random.default_rng(0).integers(0, 256, size=(columns * size, columns * size), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


# -- the broken logs, each beside a healthy embedding ----------------------------------------
def truncated_tensor(run_dir, size):
    write_bytes_run(run_dir, matrix(size), name="broken")
    path = os.path.join(run_dir, "broken", "tensor.bytes")
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 100)
    return "broken/tensor.bytes is", "truncated, or a wrong shape?"


def wrong_tensor_shape(run_dir, size):
    rows, columns = SIZES[size]
    os.makedirs(os.path.join(run_dir, "broken"))
    matrix(size).tofile(os.path.join(run_dir, "broken", "tensor.bytes"))
    add_entry(run_dir, name="broken", tensor_path="broken/tensor.bytes", shape=[rows, columns + 1])
    return "broken/tensor.bytes is", "tensor_shape [%d, %d] needs" % (rows, columns + 1)


def tsv_with_a_header(run_dir, size):
    rows, columns = SIZES[size]
    write_tsv_tensor(run_dir, "broken", rows, columns, header=["x%d" % i for i in range(columns)])
    return "broken/tensors.tsv", "line 1 column 1 is 'x0', not a number"


def missing_tensor(run_dir, size):
    write_bytes_run(run_dir, matrix(size), name="broken")
    os.unlink(os.path.join(run_dir, "broken", "tensor.bytes"))
    return "broken/tensor.bytes", "does not exist"


ERRORS = [truncated_tensor, wrong_tensor_shape, tsv_with_a_header, missing_tensor]


@pytest.fixture(params=sorted(SIZES))
def size(request):
    return request.param


def write_logdir(tmp_path, size, broken):
    """run/ok (healthy, with a sprite) and run/broken; returns the broken one's message parts."""
    run_dir = str(tmp_path / "run")
    write_bytes_run(run_dir, matrix(size), name="ok", sprite=1,
                    metadata_rows=[("index", "label")] + [(str(i), str(i % 3)) for i in range(SIZES[size][0])])
    expected = broken(run_dir, size)
    return run_dir, expected


def assert_on_its_side_of_the_threshold(tmp_path, size, name="ok"):
    ref = find_ref(discover(str(tmp_path)), "run", name)
    assert listing.cheap_to_load(ref) == (size == "small")


def listed(client):
    status, body = get(client, "/runs")
    assert status == 200, body
    return {entry["name"]: entry for run in body["runs"] for entry in run["embeddings"]}


@pytest.mark.parametrize("broken", ERRORS, ids=lambda f: f.__name__)
def test_a_broken_tensor_is_that_embeddings_error_not_the_logdirs(tmp_path, size, broken):
    _, (where, what) = write_logdir(tmp_path, size, broken)
    assert_on_its_side_of_the_threshold(tmp_path, size)
    client = make_client(tmp_path)
    entries = listed(client)
    assert entries["ok"]["error"] is None and entries["ok"]["shape"] == list(SIZES[size])
    assert entries["ok"]["has_sprite"] and entries["ok"]["label_column"] == "label"
    error = entries["broken"]["error"]
    assert error and "run/" + where in error and what in error, error
    assert str(tmp_path) not in error  # relative to the logdir: no server path
    status, body = get(client, "/neighbors", run="run", embedding="broken", index="0", k="3")
    assert status == 422 and body["error"] == error  # the data routes say the same thing
    assert listed(client)["broken"]["error"] == error  # and so does /runs, asked again (cached)


def test_a_tsv_whose_config_shape_disagrees_gets_a_warning(tmp_path, size):
    """Issue 23 item 4: the file wins (as in TensorBoard's projector), and the listing says so."""
    run_dir = str(tmp_path / "run")
    rows, columns = SIZES[size]
    write_tsv_tensor(run_dir, "emb", rows, columns, shape=[rows + 1, columns])
    write_tsv_tensor(run_dir, "agrees", rows, columns, shape=[rows, columns])
    client = make_client(tmp_path)
    entries = listed(client)
    assert entries["emb"]["error"] is None and entries["emb"]["shape"] == [rows, columns]
    expected = "run/emb/tensors.tsv has %s rows of %d values, but the config's tensor_shape says [%d, %d]" % (
        format(rows, ","), columns, rows + 1, columns)
    assert any(expected in warning for warning in entries["emb"]["warnings"]), entries["emb"]["warnings"]
    assert entries["agrees"]["warnings"] == []


@pytest.mark.parametrize("case", ["row_count", "missing"])
def test_a_refused_metadata_file_costs_the_labels_only(tmp_path, size, case):
    run_dir = str(tmp_path / "run")
    rows = SIZES[size][0]
    write_bytes_run(run_dir, matrix(size), name="emb", metadata_rows=[("a",)] * rows)
    path = os.path.join(run_dir, "emb", "metadata.tsv")
    if case == "missing":
        os.unlink(path)
        expected = "metadata file run/emb/metadata.tsv is missing: no labels"
    else:
        write_tsv(path, [("a",)] * (rows + 5))
        expected = "run/emb/metadata.tsv has %s rows but tensor emb has %s" % (format(rows + 5, ","), format(rows, ","))
    assert_on_its_side_of_the_threshold(tmp_path, size, "emb")
    entry = listed(make_client(tmp_path))["emb"]
    assert entry["error"] is None and entry["label_column"] is None
    assert any(expected in warning for warning in entry["warnings"]), entry["warnings"]


# -- sprites ----------------------------------------------------------------------------------
def damage(path, how):
    data = pathlib.Path(path).read_bytes()
    if how == "truncated":
        data = data[:len(data) - 30]
    else:  # flipped bytes in the pixel data: the header still reads
        middle = len(data) // 2
        data = data[:middle] + bytes(255 - b for b in data[middle:middle + 16]) + data[middle + 16:]
    pathlib.Path(path).write_bytes(data)


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_an_undecodable_sprite_is_a_warning_and_a_422_naming_it(tmp_path, size, how):
    run_dir = str(tmp_path / "run")
    write_bytes_run(run_dir, matrix(size), name="ok", sprite=2)
    write_noise_sprite(os.path.join(run_dir, "ok", "sprite.png"), SIZES[size][0], 2)
    damage(os.path.join(run_dir, "ok", "sprite.png"), how)
    assert_on_its_side_of_the_threshold(tmp_path, size)
    client = make_client(tmp_path)
    entry = listed(client)["ok"]
    assert entry["error"] is None and entry["shape"] == list(SIZES[size])
    assert not entry["has_sprite"]
    assert any(w.startswith("sprite run/ok/sprite.png cannot be read") for w in entry["warnings"]), entry["warnings"]
    status, body = get(client, "/thumbnail", run="run", embedding="ok", index="0")
    assert status in (404, 422) and "sprite" in body["error"], body
    status, _ = get(client, "/neighbors", run="run", embedding="ok", index="0", k="3")
    assert status == 200  # the vectors are fine


def test_a_sprite_that_fails_to_decode_is_a_422_then_a_warning(tmp_path, size, monkeypatch):
    """A sprite whose header and checksums read but whose pixels do not decode (a JPEG cut
    short: nothing checks it before decoding): the first thumbnail answers 422 naming the
    file, and from then on /runs says so and the file is not decoded again for each point."""
    run_dir = str(tmp_path / "run")
    write_bytes_run(run_dir, matrix(size), name="ok", sprite=4, sprite_format="jpg")
    path = os.path.join(run_dir, "ok", "sprite.jpg")
    write_noise_sprite(path, SIZES[size][0], 4)
    data = pathlib.Path(path).read_bytes()
    pathlib.Path(path).write_bytes(data[:len(data) * 2 // 3])
    assert_on_its_side_of_the_threshold(tmp_path, size)
    client = make_client(tmp_path)
    entry = listed(client)["ok"]
    assert entry["has_sprite"] and entry["warnings"] == []  # only decoding finds it
    decodes = []
    real_open = sprites.open_sprite

    def counting_open(p, **options):  # options: the store's reserve= (its decode budget)
        decodes.append(p)
        return real_open(p, **options)

    monkeypatch.setattr(sprites, "open_sprite", counting_open)
    for index in ("0", "1"):
        status, body = get(client, "/thumbnail", run="run", embedding="ok", index=index)
        assert status == 422 and body["error"].startswith("sprite run/ok/sprite.jpg cannot be read"), body
    assert len(decodes) == 1
    entry = listed(client)["ok"]
    assert not entry["has_sprite"] and entry["thumbnail_size"] is None
    assert any(w.startswith("sprite run/ok/sprite.jpg cannot be read") for w in entry["warnings"]), entry["warnings"]
    write_sprite(path, SIZES[size][0], size=4)  # fixed: thumbnails again
    assert get(client, "/thumbnail", run="run", embedding="ok", index="1")[0] == 200
    assert listed(client)["ok"]["has_sprite"]


def test_a_missing_or_too_small_sprite_is_a_warning(tmp_path, size):
    run_dir = str(tmp_path / "run")
    write_bytes_run(run_dir, matrix(size), name="gone", sprite=1)
    os.unlink(os.path.join(run_dir, "gone", "sprite.png"))
    write_bytes_run(run_dir, matrix(size), name="small_grid", sprite=1)
    write_sprite(os.path.join(run_dir, "small_grid", "sprite.png"), 4, size=1)
    client = make_client(tmp_path)
    entries = listed(client)
    assert not entries["gone"]["has_sprite"] and not entries["small_grid"]["has_sprite"]
    assert entries["gone"]["warnings"] == ["sprite run/gone/sprite.png is missing: no thumbnails"]
    assert "run/small_grid/sprite.png is 2x2 px, but" in entries["small_grid"]["warnings"][0]
    for name in ("gone", "small_grid"):
        status, body = get(client, "/thumbnail", run="run", embedding=name, index="0")
        assert status == 404 and "no sprite" in body["error"], body


# -- the store's own error paths ----------------------------------------------------------------
def small_ref(tmp_path, **kwargs):
    write_bytes_run(str(tmp_path), matrix("small"), name="emb", **kwargs)
    return find_ref(discover(str(tmp_path)), ".", "emb")


def test_a_bug_while_loading_is_raised_and_not_cached(tmp_path, monkeypatch):
    ref, store = small_ref(tmp_path), EmbeddingStore()
    real, calls = tensors.read_vectors, []

    def fails_once(source):
        calls.append(source)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug")
        return real(source)

    monkeypatch.setattr(tensors, "read_vectors", fails_once)
    with pytest.raises(ZeroDivisionError):
        store.load(ref)
    assert store.load(ref).shape == SIZES["small"] and len(calls) == 2  # not cached: read again


def test_files_that_keep_changing_while_read_are_a_log_error(tmp_path, monkeypatch):
    ref, store = small_ref(tmp_path), EmbeddingStore()
    ticks = iter(range(1000))
    monkeypatch.setattr(store_module, "_signature", lambda _ref: next(ticks))
    with pytest.raises(TensorFormatError, match=r"files of embedding 'emb' \(emb/tensor.bytes\) kept changing while "
                                                r"they were read, 3 times"):
        store.load(ref)


def test_a_bug_while_decoding_a_sprite_is_a_bug_for_every_waiting_request(tmp_path, monkeypatch):
    """Not a SpriteError (a 4xx: "your file is bad") for the requests that waited for the
    decode: theirs is the same bug. And nothing is cached: the next request decodes again."""
    ref, store = small_ref(tmp_path, sprite=2), EmbeddingStore()
    embedding = store.load(ref)
    real, started, calls = sprites.open_sprite, threading.Event(), []

    def buggy(path, **options):
        calls.append(path)
        if len(calls) == 1:
            started.set()
            time.sleep(0.3)  # the other threads ask meanwhile, and wait for this decode
            raise ZeroDivisionError("a bug")
        return real(path, **options)

    monkeypatch.setattr(sprites, "open_sprite", buggy)
    raised = []

    def thumbnail():
        try:
            store.thumbnail_png(embedding, 0)
        except Exception as error:  # noqa: BLE001 - collected for the assertions
            raised.append(error)

    leader = threading.Thread(target=thumbnail)
    leader.start()
    started.wait(5)
    waiters = [threading.Thread(target=thumbnail) for _ in range(3)]
    for thread in waiters:
        thread.start()
    for thread in [leader] + waiters:
        thread.join()
    assert sorted(type(e).__name__ for e in raised) == ["RuntimeError"] * 3 + ["ZeroDivisionError"]
    assert not any(isinstance(e, LogError) for e in raised)
    assert store.thumbnail_png(embedding, 0).startswith(b"\x89PNG") and len(calls) == 2
