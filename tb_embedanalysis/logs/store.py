"""EmbeddingStore: load each embedding once, reload it when its files change, bound memory.

TensorBoard answers requests on several threads, and one page view asks for the same
embedding many times (points, neighbours, thumbnails). Loading is slow (a checkpoint, a
big TSV), so the store caches by ref, checks the files' (mtime, size) on every call
(a few stat calls), and lets only one thread read a given ref while the others wait.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Dict, Optional, Tuple

from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB
from tb_embedanalysis.cache import ResultCache
from tb_embedanalysis.logs import listing, paths
from tb_embedanalysis.logs.checkpoint_reader import checkpoint_files
from tb_embedanalysis.logs.embedding_reader import load_embedding, relative_error
from tb_embedanalysis.logs.errors import LogError, TensorFormatError
from tb_embedanalysis.logs.model import Embedding, EmbeddingRef, EmbeddingSummary
from tb_embedanalysis.logs.sprite_cache import SpriteCache

_SUMMARIES_KEPT = 1024  # listing facts of embeddings not loaded...
_SUMMARY_BYTES = 4096  # ...counted at a generous 4 kB each
_FINGERPRINTS_KEPT = 4096  # content fingerprints of loaded versions (ref, file signature)...
_FINGERPRINT_BYTES = 1024  # ...counted at a generous 1 kB each (the key's paths included)


class EmbeddingStore:
    """Thread-safe, single-flight, LRU cache of loaded embeddings, bounded in MB.

    What is bounded (`held_bytes` <= max_memory_mb) is what each embedding holds: vectors,
    the finite-row mask and the metadata columns (codes + distinct strings); listing facts
    and fingerprints are bounded LRUs (cache.ResultCache) too. Decoded sprites and their
    decodes in flight have their own bounds (logs/sprite_cache.py, within work_memory_mb).

    An embedding larger than the bound alone is still served (and held until the next
    load evicts it): refusing it would make the tab useless, not safer.
    """

    def __init__(self, max_memory_mb: float = 2048, *, work_memory_mb: float = DEFAULT_WORK_MEMORY_MB):
        if max_memory_mb <= 0:
            raise ValueError("max_memory_mb must be positive, got %r" % (max_memory_mb,))
        self._lock = threading.Lock()
        # ref -> _Entry (the embedding or its LogError, and the files' signature it was read at)
        self._entries = ResultCache(max(1, int(max_memory_mb * 1024 * 1024)), hold_newest=True)
        self._flights: Dict[EmbeddingRef, _Flight] = {}
        self._sprites = SpriteCache(work_memory_mb)
        # Cheap listing facts by (ref, file signature): /runs is asked often, files rarely change.
        self._summaries = ResultCache(_SUMMARIES_KEPT * _SUMMARY_BYTES)
        # (ref, file signature) -> the vectors' fingerprint, kept after the embedding is evicted.
        self._fingerprints = ResultCache(_FINGERPRINTS_KEPT * _FINGERPRINT_BYTES)

    def load(self, ref: EmbeddingRef) -> Embedding:
        """The embedding `ref` points at; raises a LogError naming the file and the problem."""
        signature = _signature(ref)
        with self._lock:
            entry = self._entries.get(ref)
            if entry is not None and entry.signature == signature:
                return entry.outcome.result()
            flight = self._flights.get(ref)
            leader = flight is None
            if flight is None:
                flight = self._flights[ref] = _Flight()
        if not leader:
            flight.done.wait()
            return flight.outcome.result()
        outcome = flight.outcome
        try:
            outcome.embedding, signature = _load_stable(ref, signature)
        except LogError as error:
            outcome.error = error  # cached too: a bad 1 GB TSV is not re-parsed per request
        except BaseException as error:  # a bug or KeyboardInterrupt: tell waiters, cache nothing
            outcome.error = error
            raise
        finally:
            with self._lock:
                del self._flights[ref]
                if outcome.error is None or isinstance(outcome.error, LogError):
                    entry = _Entry(signature, outcome)
                    self._entries.put(ref, entry, nbytes=entry.nbytes)
                if outcome.embedding is not None:
                    self._fingerprints.put((ref, signature), outcome.embedding.fingerprint, nbytes=_FINGERPRINT_BYTES)
            flight.done.set()
        return outcome.result()

    def peek(self, ref: EmbeddingRef) -> Optional[Embedding]:
        """The embedding of `ref` if the store holds it for the files as they are now, else
        None (nothing is read but a few stat calls); raises the held LogError of a failed load."""
        signature = _signature(ref)
        with self._lock:
            entry = self._entries.get(ref)
            if entry is None or entry.signature != signature:
                return None
        return entry.outcome.result()

    def fingerprint(self, ref: EmbeddingRef) -> Optional[str]:
        """The content fingerprint of `ref`'s vectors as the store last loaded them, if its
        files have not changed since (a few stat calls, nothing read; kept after the embedding
        itself is evicted), else None: lets a result cached by fingerprint be found without
        loading the embedding again."""
        return self._fingerprints.get((ref, _signature(ref)))

    def summary(self, ref: EmbeddingRef) -> EmbeddingSummary:
        """What a listing shows of `ref`: from the embedding if the store holds it or its files
        are small (then it is loaded: milliseconds), else from cheap facts (logs/listing.py),
        so that listing a 200 MB metadata neither parses it nor holds it. A sprite that failed
        to decode since (at a thumbnail) is listed as such. Raises the LogError a load gives
        (or gave)."""
        summary = self._summary(ref)
        if summary.sprite is None:
            return summary
        failure = self._sprites.failure(summary.sprite.path)
        if failure is None:
            return summary
        return dataclasses.replace(summary, sprite=None, warnings=summary.warnings + (str(failure),))

    def _summary(self, ref: EmbeddingRef) -> EmbeddingSummary:
        embedding = self.peek(ref)
        if embedding is None and listing.cheap_to_load(ref):
            embedding = self.load(ref)
        if embedding is not None:
            return listing.of_embedding(embedding)
        key = (ref, _signature(ref))
        facts = self._summaries.get(key)
        if facts is not None:
            return facts
        try:
            facts = listing.summarize(ref)
        except LogError as error:
            raise relative_error(error, ref) from None
        logdir = paths.logdir_of(ref.config_path, ref.run)
        facts = dataclasses.replace(facts, warnings=tuple(paths.relative_message(w, logdir) for w in facts.warnings))
        return self._summaries.put(key, facts, nbytes=_SUMMARY_BYTES)

    @property
    def held_bytes(self) -> int:
        """Bytes held by cached embeddings: vectors, finite mask, metadata (what max_memory_mb bounds)."""
        return self._entries.held_bytes

    def thumbnail_png(self, embedding: Embedding, index: int) -> bytes:
        """PNG bytes of point `index`'s thumbnail, cropped from its (cached) sprite image."""
        return self._sprites.thumbnail_png(embedding, index)

def _load_stable(ref: EmbeddingRef, signature: Tuple, attempts: int = 3) -> Tuple[Embedding, Tuple]:
    """load_embedding, again if a file changed while it was read (vectors of one write with
    metadata of the next must never be served); returns the embedding and its signature."""
    for _ in range(attempts):
        embedding = load_embedding(ref)
        after = _signature(ref)
        if after == signature:
            return embedding, signature
        signature = after
    raise relative_error(TensorFormatError(
        "the files of embedding %r (%s) kept changing while they were read, %d times; is something rewriting "
        "them in place?" % (ref.name, ref.tensor.path, attempts)), ref)


def _signature(ref: EmbeddingRef) -> Tuple:
    """(path, mtime_ns, size) of every file the ref reads: any change means reload."""
    files = checkpoint_files(ref.tensor.path) if ref.tensor.kind == "checkpoint" else [ref.tensor.path]
    if ref.metadata_path:
        files.append(ref.metadata_path)
    if ref.sprite is not None:
        files.append(ref.sprite.path)
    return tuple((path, paths.signature(path)) for path in files)


class _Outcome:
    """What one load gave: an embedding or the error to raise (again) for every caller."""

    def __init__(self, embedding: Optional[Embedding] = None, error: Optional[BaseException] = None):
        self.embedding = embedding
        self.error = error

    def result(self) -> Embedding:
        if isinstance(self.error, LogError):
            # A fresh exception per caller: re-raising one shared object from several
            # threads would keep growing (and racing on) its traceback.
            raise type(self.error)(*self.error.args)
        if self.error is not None:
            raise self.error
        return self.embedding  # type: ignore[return-value]


class _Flight:
    """A load in progress; other threads asking for the same ref wait on `done`."""

    def __init__(self):
        self.done = threading.Event()
        self.outcome = _Outcome()


class _Entry:
    def __init__(self, signature: Tuple, outcome: _Outcome):
        self.signature = signature
        self.outcome = outcome
        self.nbytes = 0 if outcome.embedding is None else _embedding_bytes(outcome.embedding)


def _embedding_bytes(embedding: Embedding) -> int:
    """What a held embedding costs: vectors, finite mask and metadata columns."""
    metadata = embedding.metadata.nbytes if embedding.metadata is not None else 0
    return int(embedding.vectors.nbytes + embedding.finite.nbytes + metadata)
