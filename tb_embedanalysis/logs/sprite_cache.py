"""SpriteCache: decoded sprite images, one decode per file version, bounded in bytes.

Thumbnails are crops of a sprite image; decoding one (up to 8192², 256 MB) is the slow and
big part, so each version of a sprite file is decoded once, by one request while the others
wait, kept in an LRU bounded in bytes, and decodes of distinct sprites at once hold at most a
budget between them. A version that does not decode is kept as its error, so listings can warn
and thumbnails answer it again without reading the file. EmbeddingStore owns one.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Dict, Optional

from tb_embedanalysis.budget import BytesInFlight, budget_bytes, fmt_mb
from tb_embedanalysis.cache import ResultCache
from tb_embedanalysis.logs import paths, sprites
from tb_embedanalysis.logs.embedding_reader import relative_error
from tb_embedanalysis.logs.errors import LogError, SpriteError
from tb_embedanalysis.logs.model import Embedding, EmbeddingRef, SpriteInfo

_CACHE_BYTES = 256 * 1024 * 1024  # decoded sprites kept for cropping
#: Sprite decodes in flight hold at most this (or the working-memory budget, if smaller):
#: two of the largest RGB sprites accepted (8192², 4 bytes a pixel as Pillow holds them),
#: or one whose mode is converted to RGBA (up to 8 bytes a pixel): 512 MB. Two cores decode
#: no faster with more at once; more only cost memory.
_DECODES_IN_FLIGHT_BYTES = 2 * sprites.MAX_SPRITE_PIXELS ** 2 * 4
_FAILURE_BYTES = 4096  # a failed version's error, counted generously


class SpriteCache:
    """Thread-safe, single-flight cache of decoded sprites, bounded in bytes (_CACHE_BYTES,
    or one sprite if larger); decodes in flight hold at most min(work_memory_mb,
    _DECODES_IN_FLIGHT_BYTES) between them (budget.py; a sprite that alone needs more is refused)."""

    def __init__(self, work_memory_mb: float):
        self._lock = threading.Lock()
        # 256 MiB = one 8192² RGBA sprite, the largest we accept: it always fits.
        self._images = ResultCache(_CACHE_BYTES)
        self._flights: Dict[tuple, _SpriteFlight] = {}
        self._decodes = BytesInFlight(min(budget_bytes(work_memory_mb), _DECODES_IN_FLIGHT_BYTES))

    def failure(self, path: str) -> Optional[LogError]:
        """The error of the current version of sprite file `path` if a decode of it failed."""
        held = self._images.get((path, paths.signature(path)))
        return held.error if isinstance(held, _SpriteFailure) else None

    def thumbnail_png(self, embedding: Embedding, index: int) -> bytes:
        """PNG bytes of point `index`'s thumbnail, cropped from the (cached) sprite image."""
        if embedding.sprite is None:
            raise SpriteError("embedding %r has no usable sprite, so no thumbnails" % embedding.ref.name)
        if not 0 <= index < embedding.shape[0]:
            raise IndexError("index %d is out of range: embedding %r has %d rows"
                             % (index, embedding.ref.name, embedding.shape[0]))
        image = self._image(embedding.sprite, embedding.ref)
        with self._lock:
            # Pillow does not promise thread-safe reads of one image; a crop is microseconds.
            thumbnail = sprites.crop(image, embedding.sprite, index)
        return sprites.png_bytes(thumbnail)

    def _image(self, sprite: SpriteInfo, ref: EmbeddingRef):
        """The decoded `sprite` of embedding `ref`: one decode per file version, shared.

        An 8192² RGB sprite decodes to 256 MB; eight cold requests each decoding it (and
        copying it) took 4 GB. So the first request decodes while the others wait for it
        (single-flight), older versions of the file are dropped before decoding, and the
        cache makes room for the new image first, so sprites hold at most about
        max(_CACHE_BYTES, one sprite). Eight requests on eight *distinct* sprites took
        +1.9 GB at once: decodes of different files hold at most _DECODES_IN_FLIGHT_BYTES (or
        the working-memory budget) between them (`_reserve`), the others wait their turn.
        """
        path = sprite.path
        key = (path, paths.signature(path))
        with self._lock:
            image = self._images.get(key)
            if isinstance(image, _SpriteFailure):  # this version does not decode: say so again, quickly
                raise type(image.error)(*image.error.args)
            if image is not None:
                return image
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _SpriteFlight()
                width, height = sprite.image_size
                # Another version of this file is never served again; room for the new one first.
                self._images.discard(lambda old: old[0] == path)
                self._images.make_room(width * height * 4)  # 4 bytes/px: Pillow's RGB(A) layout
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise type(flight.error)(*flight.error.args)  # a fresh exception per waiting thread
            return flight.image
        try:
            flight.image = sprites.open_sprite(path, reserve=lambda nbytes: self._reserve(nbytes, path))
        except LogError as error:
            flight.error = relative_error(error, ref)
            raise flight.error from None
        except BaseException as error:  # a bug: waiters must not hang, nor get a stale image,
            # nor a LogError (a 4xx): theirs is the same bug, the leader's traceback is logged.
            flight.error = RuntimeError("decoding sprite %s failed in another request (%s)"
                                        % (os.path.basename(path), type(error).__name__))
            raise
        finally:
            with self._lock:
                del self._flights[key]
                if flight.image is not None:
                    self._images.put(key, flight.image, nbytes=_image_bytes(flight.image))
                elif isinstance(flight.error, LogError):  # kept like an image: decoded once per version
                    self._images.put(key, _SpriteFailure(flight.error), nbytes=_FAILURE_BYTES)
            flight.done.set()
        return flight.image

    def _reserve(self, nbytes: int, path: str):
        """Hold `nbytes` of the decode budget while sprite `path` decodes (waiting for others
        to finish if need be); a sprite that alone needs more than the budget is refused."""
        if not self._decodes.fits(nbytes):
            raise SpriteError(
                "sprite %s takes %s to decode, more than the working-memory budget of %s: no thumbnails; "
                "raise it (--embedanalysis_work_memory_mb) or write a smaller sprite"
                % (path, fmt_mb(nbytes), fmt_mb(self._decodes.capacity)))
        return self._decodes.hold(nbytes)


def _image_bytes(image) -> int:
    # Pillow keeps 8-bit multi-band images (LA, RGB, RGBA) at 4 bytes a pixel, L and P at one.
    return image.width * image.height * (1 if image.mode in ("1", "L", "P") else 4)


class _SpriteFlight:
    """A sprite decode in progress; other threads wanting the same version wait on `done`."""

    def __init__(self):
        self.done = threading.Event()
        self.image = None
        self.error: Optional[Exception] = None


@dataclasses.dataclass(frozen=True)
class _SpriteFailure:
    """A sprite version that does not decode, kept in the sprite cache where its image would
    be: thumbnails answer its error without decoding the file again, listings warn."""

    error: LogError
