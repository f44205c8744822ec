"""Every error path of the store and the sprite reader, called directly (EmbeddingStore), on
both sides of the listing threshold. As the plugin answers them (/runs, the data routes, real
files over 16 MB): tests/test_logs_error_paths.py.

Below `listing.LOAD_BELOW_BYTES` (16 MB) a listing loads the embedding; above it, a listing
is made of cheap facts (listing.summarize) and only the data routes load. Issue 23: the
"above" side called a renamed helper on its error path, so one broken big embedding turned
/runs into an internal error for the whole logdir, and a broken sprite did the same to
/thumbnail. Each case runs on both sides: "loaded" (the real threshold, small files) and
"listed" (threshold 0, so every file counts as big).
"""

import os
import re
import threading
import time

import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from logs_fixtures import vectors, write_bytes_run, write_config, write_sprite, write_tsv
from tb_embedanalysis.logs import EmbeddingStore, LogError, SpriteError, TensorFormatError, discover, find_ref
from tb_embedanalysis.logs import listing, sprites, tensors, store as store_module
from tb_embedanalysis.logs.errors import TensorNotFoundError

N, D = 10, 3


@pytest.fixture(params=["loaded", "listed"])
def side(request, monkeypatch):
    """Which side of the 16 MB listing threshold the (small) test files are on."""
    if request.param == "listed":
        monkeypatch.setattr(listing, "LOAD_BELOW_BYTES", 0)
    return request.param


def ref_of(logdir, name):
    return find_ref(discover(str(logdir)), ".", name)


def truncate_tensor(logdir, name):
    path = logdir / name / "tensor.bytes"
    path.write_bytes(path.read_bytes()[:-4])


def wrong_shape(logdir, name):
    config = ProjectorConfig()
    text_format.Parse((logdir / "projector_config.pbtxt").read_text(), config)
    for embedding in config.embeddings:
        if embedding.tensor_name == name:
            embedding.tensor_shape[0] = N + 1
    write_config(str(logdir), config)


def remove_tensor(logdir, name):
    (logdir / name / "tensor.bytes").unlink()


def tsv_with_header(logdir, name):
    """A TSV tensor whose first line is a header (what pandas' to_csv writes by default)."""
    write_tsv(str(logdir / name / "tensor.tsv"), [("x", "y", "z")] + [("1", "2", "3")] * N)
    config = ProjectorConfig()
    text_format.Parse((logdir / "projector_config.pbtxt").read_text(), config)
    for embedding in config.embeddings:
        if embedding.tensor_name == name:
            embedding.tensor_path = os.path.join(name, "tensor.tsv")
            del embedding.tensor_shape[:]
    write_config(str(logdir), config)


BROKEN_TENSORS = [
    pytest.param(truncate_tensor, TensorFormatError, r"broken/tensor\.bytes is 116 bytes but tensor_shape \[10, 3\] needs 120",
                 id="truncated"),
    pytest.param(wrong_shape, TensorFormatError, r"broken/tensor\.bytes is 120 bytes but tensor_shape \[11, 3\] needs 132",
                 id="wrong-tensor-shape"),
    pytest.param(tsv_with_header, TensorFormatError, r"broken/tensor\.tsv.*line 1 column 1 is 'x', not a number",
                 id="tsv-header-line"),
    pytest.param(remove_tensor, TensorNotFoundError, r"broken/tensor\.bytes does not exist", id="missing"),
]


@pytest.mark.parametrize("breaks, error_type, message", BROKEN_TENSORS)
def test_a_broken_tensor_is_a_log_error_naming_the_file_not_a_crash(tmp_path, side, breaks, error_type, message):
    write_bytes_run(str(tmp_path), vectors(N, D, seed=1), name="good")
    write_bytes_run(str(tmp_path), vectors(N, D, seed=2), name="broken")
    breaks(tmp_path, "broken")
    store = EmbeddingStore()
    for attempt in ("summary", "summary again (cached facts or held error)", "load"):
        with pytest.raises(error_type, match=message) as raised:
            (store.load if attempt == "load" else store.summary)(ref_of(tmp_path, "broken"))
        assert str(tmp_path) not in str(raised.value), attempt  # paths relative to the logdir
    good = store.summary(ref_of(tmp_path, "good"))
    assert good.shape == (N, D) and good.loaded == (side == "loaded")


def test_files_that_keep_changing_while_read_give_up_with_a_log_error(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb")
    path = tmp_path / "emb" / "tensor.bytes"
    real = store_module.load_embedding

    def load_then_touch(ref):
        loaded = real(ref)
        stat = os.stat(path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a writer rewrote it meanwhile
        return loaded

    monkeypatch.setattr(store_module, "load_embedding", load_then_touch)
    with pytest.raises(TensorFormatError, match=r"files of embedding 'emb' \(emb/tensor\.bytes\) kept changing while "
                                                r"they were read, 3 times") as raised:
        EmbeddingStore().load(ref_of(tmp_path, "emb"))
    assert str(tmp_path) not in str(raised.value)


def test_a_bug_while_loading_is_raised_and_not_cached(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb")
    ref, store = ref_of(tmp_path, "emb"), EmbeddingStore()
    real, calls = tensors.read_vectors, []

    def fails_once(source):
        calls.append(source)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug")
        return real(source)

    monkeypatch.setattr(tensors, "read_vectors", fails_once)
    with pytest.raises(ZeroDivisionError):
        store.load(ref)
    assert store.load(ref).shape == (N, D) and len(calls) == 2  # not cached: read again


def test_peek_raises_the_held_error_and_never_reads(tmp_path):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb")
    truncate_tensor(tmp_path, "emb")
    store = EmbeddingStore()
    assert store.peek(ref_of(tmp_path, "emb")) is None  # nothing held yet
    with pytest.raises(TensorFormatError):
        store.load(ref_of(tmp_path, "emb"))
    with pytest.raises(TensorFormatError, match=r"emb/tensor\.bytes is 116 bytes"):
        store.peek(ref_of(tmp_path, "emb"))


# -- sprites -----------------------------------------------------------------------------------
def not_an_image(path):
    path.write_bytes(b"not a png at all")


def too_small(path):
    Image.new("L", (4, 4)).save(path)


def removed(path):
    path.unlink()


def over_the_limit(path):
    Image.new("L", (8200, 16)).save(path)  # wider than TensorBoard's 8192 px


def bad_single_image_dim(path, dims=None):
    config_path = path.parent.parent / "projector_config.pbtxt"
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    if dims is None:
        config.embeddings[0].sprite.single_image_dim[0] = 0
    else:
        del config.embeddings[0].sprite.single_image_dim[:]
        config.embeddings[0].sprite.single_image_dim.extend(dims)
    write_config(str(config_path.parent), config)


def three_single_image_dims(path):
    bad_single_image_dim(path, [4, 4, 4])  # issue 24: was reported as "got [0, 0]"


def no_single_image_dim(path):
    bad_single_image_dim(path, [])


@pytest.mark.parametrize("breaks, warning", [
    (not_an_image, r"sprite emb/sprite\.png cannot be read \(.*\): no thumbnails"),
    (too_small, r"sprite emb/sprite\.png is 4x4 px, but 10 thumbnails of 4x4 px in a 4-column grid need 16x12 px"),
    (removed, r"sprite emb/sprite\.png is missing: no thumbnails"),
    (over_the_limit, r"sprite emb/sprite\.png is 8200x16 px, more than TensorBoard's limit of 8192 px"),
    (bad_single_image_dim, r"sprite emb/sprite\.png: single_image_dim must be two positive sizes .*got \[0, 4\]"),
    (three_single_image_dims, r"sprite emb/sprite\.png: single_image_dim must be two positive sizes .*got \[4, 4, 4\]"),
    (no_single_image_dim, r"sprite emb/sprite\.png: single_image_dim must be two positive sizes .*got \[\]"),
], ids=["not-an-image", "grid-too-small", "missing", "over-8192-px", "bad-single-image-dim", "three-single-image-dims",
        "no-single-image-dim"])
def test_an_unusable_sprite_costs_the_thumbnails_with_the_same_warning_on_both_sides(tmp_path, side, breaks, warning):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb", sprite=4)
    breaks(tmp_path / "emb" / "sprite.png")
    store = EmbeddingStore()
    summary = store.summary(ref_of(tmp_path, "emb"))
    assert summary.shape == (N, D) and summary.sprite is None
    assert any(re.search(warning, w) for w in summary.warnings), summary.warnings
    assert not any(str(tmp_path) in w for w in summary.warnings)
    embedding = store.load(ref_of(tmp_path, "emb"))
    with pytest.raises(SpriteError, match="no usable sprite"):
        store.thumbnail_png(embedding, 0)


def test_a_sprite_swapped_for_an_outside_symlink_after_discovery_is_refused(tmp_path, side):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb", sprite=4)
    ref = ref_of(tmp_path, "emb")  # discovery checked the sprite's path: inside the run
    outside = tmp_path.parent / (tmp_path.name + "-outside.png")
    write_sprite(str(outside), N, size=4)
    sprite = tmp_path / "emb" / "sprite.png"
    sprite.unlink()
    os.symlink(outside, sprite)
    summary = EmbeddingStore().summary(ref)
    assert summary.shape == (N, D) and summary.sprite is None
    assert any(w.startswith("sprite refused, no thumbnails:") for w in summary.warnings), summary.warnings
    assert not any(str(outside) in w for w in summary.warnings)


def test_a_bug_while_decoding_a_sprite_is_a_bug_for_every_waiting_request(tmp_path, monkeypatch):
    """Not a SpriteError (a 4xx: "your file is bad") for the requests that waited for the
    decode: theirs is the same bug. And nothing is cached: the next request decodes again."""
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb", sprite=2)
    store = EmbeddingStore()
    embedding = store.load(ref_of(tmp_path, "emb"))
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


def test_thumbnail_index_out_of_range(tmp_path):
    write_bytes_run(str(tmp_path), vectors(N, D), name="emb", sprite=4)
    store = EmbeddingStore()
    embedding = store.load(ref_of(tmp_path, "emb"))
    with pytest.raises(IndexError, match=r"index 10 is out of range: embedding 'emb' has 10 rows"):
        store.thumbnail_png(embedding, N)
