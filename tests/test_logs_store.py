"""EmbeddingStore: caching, reload on change, LRU memory bound, single-flight, fingerprints."""

import hashlib
import os
import re
import threading
import time

import numpy as np
import pytest

from logs_fixtures import vectors, write_bytes_run, write_tsv
from tb_embedanalysis.logs import EmbeddingStore, TensorFormatError, discover, find_ref
from tb_embedanalysis.logs import tensors


class CountingReads:
    """Wraps the real tensors.read_vectors and counts calls (the data is still really read)."""

    def __init__(self, monkeypatch, delay=0.0):
        self.calls = 0
        self._real = tensors.read_vectors
        self._delay = delay
        self._lock = threading.Lock()
        monkeypatch.setattr(tensors, "read_vectors", self)

    def __call__(self, source):
        with self._lock:
            self.calls += 1
        time.sleep(self._delay)  # widen the window in which other threads ask for the same ref
        return self._real(source)


def ref_of(logdir, name="emb"):
    return find_ref(discover(str(logdir)), ".", name)


def bump_mtime(path):
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_second_load_is_cached_and_vectors_are_read_only(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(6, 3), name="emb")
    reads = CountingReads(monkeypatch)
    store = EmbeddingStore()
    first = store.load(ref_of(tmp_path))
    assert store.load(ref_of(tmp_path)) is first and reads.calls == 1
    with pytest.raises(ValueError):
        first.vectors[0, 0] = 1.0
    with pytest.raises(ValueError):
        first.finite[0] = False


def test_fingerprint_is_blake2b_of_shape_and_float32_bytes(tmp_path):
    matrix = vectors(6, 3)
    write_bytes_run(str(tmp_path), matrix, name="emb")
    write_bytes_run(str(tmp_path), matrix.reshape(3, 6), name="reshaped")
    store = EmbeddingStore()
    embedding = store.load(ref_of(tmp_path))
    expected = hashlib.blake2b(np.array([6, 3], "<i8").tobytes() + matrix.tobytes(), digest_size=16).hexdigest()
    assert embedding.fingerprint == expected
    assert store.load(ref_of(tmp_path, "reshaped")).fingerprint != expected  # same bytes, other shape


def test_changed_tensor_file_is_reloaded(tmp_path):
    write_bytes_run(str(tmp_path), vectors(6, 3, seed=0), name="emb")
    store = EmbeddingStore()
    before = store.load(ref_of(tmp_path))
    new = vectors(6, 3, seed=1)
    path = tmp_path / "emb" / "tensor.bytes"
    os.replace(_tmp_with(path, new), path)  # atomic rewrite, as writers do
    bump_mtime(path)
    after = store.load(ref_of(tmp_path))
    np.testing.assert_array_equal(after.vectors, new)
    assert after.fingerprint != before.fingerprint


def _tmp_with(path, matrix):
    tmp = str(path) + ".tmp"
    matrix.astype("<f4").tofile(tmp)
    return tmp


def test_fixed_metadata_is_picked_up_and_refusals_are_cached_until_then(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(4, 2), name="emb", metadata_rows=[("a",), ("b",), ("a",)])
    reads = CountingReads(monkeypatch)
    store = EmbeddingStore()
    for _ in range(2):  # the vectors stay usable; the metadata is refused with the reason (issue 15)
        embedding = store.load(ref_of(tmp_path))
        assert embedding.metadata is None
        assert any(re.search(r"metadata\.tsv has 3 rows but tensor emb has 4", w) for w in embedding.warnings)
    assert reads.calls == 1
    metadata = tmp_path / "emb" / "metadata.tsv"
    write_tsv(str(metadata), [("a",), ("b",), ("a",), ("b",)])
    bump_mtime(metadata)
    assert store.load(ref_of(tmp_path)).label_column == "label" and reads.calls == 2


def test_missing_metadata_loads_with_a_warning(tmp_path):
    write_bytes_run(str(tmp_path), vectors(4, 2), name="emb", metadata_rows=[("a",)] * 4)
    (tmp_path / "emb" / "metadata.tsv").unlink()
    embedding = EmbeddingStore().load(ref_of(tmp_path))
    assert embedding.metadata is None and embedding.label_column is None
    assert any("metadata.tsv is missing: no labels" in w for w in embedding.warnings)


EMBEDDING_BYTES = 256 * 256 * 4 + 256  # vectors + finite-row mask, no metadata


def store_of(tmp_path, monkeypatch, names, max_memory_mb):
    """A store bounded to `max_memory_mb` over one 256 KiB embedding per name; (load by
    name, the read counter, the store)."""
    for name in names:
        write_bytes_run(str(tmp_path), vectors(256, 256), name=name)
    reads = CountingReads(monkeypatch)
    store = EmbeddingStore(max_memory_mb=max_memory_mb)
    runs = discover(str(tmp_path))
    return (lambda name: store.load(find_ref(runs, ".", name))), reads, store


def test_lru_eviction_keeps_held_bytes_under_the_bound(tmp_path, monkeypatch):
    load, reads, store = store_of(tmp_path, monkeypatch, "abc", max_memory_mb=0.6)  # room for two
    load("a"), load("b"), load("a"), load("c")  # b is least recently used when c arrives
    assert store.held_bytes == 2 * EMBEDDING_BYTES
    calls = reads.calls
    load("a"), load("c")
    assert reads.calls == calls  # still cached
    load("b")
    assert reads.calls == calls + 1  # was evicted


def test_an_embedding_larger_than_the_bound_is_held_until_the_next_load(tmp_path, monkeypatch):
    load, reads, store = store_of(tmp_path, monkeypatch, "ab", max_memory_mb=0.1)  # smaller than either
    load("a"), load("a")
    assert reads.calls == 1 and store.held_bytes == EMBEDDING_BYTES  # served from memory, not re-read
    load("b"), load("a")
    assert reads.calls == 3 and store.held_bytes == EMBEDDING_BYTES  # b evicted a, then a evicted b


def test_concurrent_loads_of_one_ref_read_once(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(50, 8), name="emb")
    reads = CountingReads(monkeypatch, delay=0.2)
    store = EmbeddingStore()
    ref = ref_of(tmp_path)
    barrier = threading.Barrier(8)
    results = []

    def worker():
        barrier.wait()
        results.append(store.load(ref))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads.calls == 1 and len(results) == 8
    assert all(result is results[0] for result in results)


def test_concurrent_failing_load_raises_in_every_thread(tmp_path, monkeypatch):
    write_bytes_run(str(tmp_path), vectors(5, 2), name="emb")
    with open(tmp_path / "emb" / "tensor.bytes", "r+b") as handle:
        handle.truncate(12)  # a tensor of the wrong size: the whole load fails
    CountingReads(monkeypatch, delay=0.1)
    store, ref, errors = EmbeddingStore(), ref_of(tmp_path), []

    def worker():
        try:
            store.load(ref)
        except TensorFormatError as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 4 and len({id(e) for e in errors}) == 4  # one exception object each
