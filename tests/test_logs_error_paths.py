"""Every error path of the logs layer as the plugin answers it, on both sides of the listing
threshold. The store's own error paths, called directly: tests/test_logs_store_errors.py.

/runs describes an embedding whose files total at most `listing.LOAD_BELOW_BYTES` (16 MB) by
loading it, and a bigger one from cheap facts (logs/listing.py): two code paths, so each broken
file is written small and big. Issue 23 item 2: a renamed helper left a NameError on the big
path only, and one broken file above 16 MB answered 422 "runs failed" for the whole logdir.

Each time: /runs lists the broken embedding with its own error or warning (naming the file
relative to the logdir), the healthy embedding beside it is listed as before, a data route
answers a 4xx JSON naming the file, and nothing answers 500.
"""

import os
import pathlib

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import write_bytes_run, write_sprite, write_tsv
from tb_embedanalysis.logs import discover, find_ref, listing, sprites
import wsgi_client
from wsgi_client import get

D = 256
# Rows of D float32 just past the threshold: 16,448 x 256 x 4 = 16.8 MB.
BIG_ROWS = listing.LOAD_BELOW_BYTES // (D * 4) + 64
SIZES = {"small": (60, 8), "big": (BIG_ROWS, D)}


def make_client(logdir):
    return wsgi_client.make_client(logdir, max_memory_mb=256.0)  # room for the 17 MB embeddings


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
    rows, columns = SIZES[size]
    write_bytes_run(run_dir, matrix(size), name="broken")
    path = os.path.join(run_dir, "broken", "tensor.bytes")
    with open(path, "r+b") as handle:
        handle.truncate(rows * columns * 4 - 100)  # issue 23's repro: 100 bytes short
    return ("broken/tensor.bytes is %s bytes but tensor_shape [%d, %d] needs %s" % (
        format(rows * columns * 4 - 100, ","), rows, columns, format(rows * columns * 4, ",")),
        "truncated, or a wrong shape?")


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
