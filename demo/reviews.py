"""Movie reviews for the word demo: the real IMDB reviews, or a generated stand-in.

Sources (each returns texts and 0/1 sentiment labels, in a fixed order):

* `read_aclimdb` - Stanford's ``aclImdb/`` folder (``train/pos/*.txt``, ``train/neg/*.txt``),
  https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz unpacked;
* `load_tfds` - ``imdb_reviews`` through tensorflow-datasets (downloads when allowed);
* `synthetic_reviews` - an offline corpus with planted word groups, so that the embedding
  has something true to find when no IMDB data is at hand, and `synthetic_unlabelled`,
  ~2,400 everyday English words (demo/english_words.py) for the vocabulary.

The planted groups. A sentiment model only learns what helps it predict sentiment, so the
groups must matter for the label. Pure sentiment words (`POSITIVE`, `NEGATIVE`) separate
easily but all point one way (great ~ superb ~ wonderful ...). For genre words to get
directions of their own, a review is positive exactly when its *praise fits the genre*
("the hitchcock and nightmare scenes were chilling and eerie" is positive; "... were
hilarious and witty" is negative), so the network must tell the genres apart, and words
of one genre - names, subjects and fitting adjectives - end up together (hitchcock near
nightmare, horror, eerie; anderson near heart and touching, as in the tutorial). Four
genres (suspense, heart, comedy, action) of 24 words and 12 + 12 sentiment words.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from tb_embedanalysis.demo import english_words

Reviews = Tuple[List[str], np.ndarray]  # texts, int64 labels (1 = positive)

#: genre -> (subject words, adjectives that praise that genre)
GENRES: Dict[str, Tuple[List[str], List[str]]] = {
    "suspense": (["hitchcock", "suspense", "nightmare", "thriller", "dread", "psycho",
                  "horror", "ghost", "monster", "killer", "murder", "zombie"],
                 ["chilling", "gripping", "tense", "eerie", "haunting", "creepy",
                  "scary", "spooky", "terrifying", "frightening", "sinister", "suspenseful"]),
    "heart": (["anderson", "heart", "romance", "family", "friendship", "childhood",
               "love", "wedding", "mother", "father", "daughter", "grandmother"],
              ["touching", "moving", "heartwarming", "sweet", "gentle", "poignant",
               "tender", "warm", "lovely", "charming", "emotional", "beautiful"]),
    "comedy": (["comedy", "jokes", "parody", "slapstick", "satire", "gags",
                "humor", "laughs", "sitcom", "comedian", "spoof", "banter"],
               ["hilarious", "witty", "funny", "clever", "amusing", "playful",
                "goofy", "silly", "zany", "quirky", "cheeky", "uproarious"]),
    "action": (["action", "explosions", "stunts", "chase", "heist", "battle",
                "fights", "gunfights", "pursuit", "shootout", "mission", "commando"],
               ["thrilling", "exciting", "explosive", "epic", "intense", "spectacular",
                "breathtaking", "riveting", "relentless", "muscular", "slick", "rousing"]),
}
POSITIVE = ["great", "wonderful", "brilliant", "excellent", "superb", "masterful",
            "amazing", "fantastic", "perfect", "outstanding", "good", "best"]
NEGATIVE = ["awful", "terrible", "boring", "dreadful", "horrible", "dull",
            "bad", "worst", "poor", "mediocre", "pointless", "disappointing"]

#: The planted groups whose members should be each other's nearest neighbours.
WORD_GROUPS: Dict[str, List[str]] = {
    **{genre: subjects + adjectives for genre, (subjects, adjectives) in GENRES.items()},
    "positive": POSITIVE,
    "negative": NEGATIVE,
}
PLANTED = frozenset(word for words in WORD_GROUPS.values() for word in words)

_PAIR_TEMPLATES = (
    "the {s1} and {s2} scenes were {a1} and {a2}",
    "i found the {s1} {a1} and the {s2} {a2}",
    "all the {s1} and {s2} felt {a1} , {a2}",
)
_VERDICT_TEMPLATES = ("a {w} film", "this movie was {w}", "overall {w}")


def filler_words() -> List[str]:
    """The everyday words of demo/english_words.py that are not planted (see
    synthetic_unlabelled)."""
    return [word for word in english_words.common_words() if word not in PLANTED]


def synthetic_reviews(n: int = 3000, *, seed: int = 0, match_rate: float = 0.5,
                      verdict_rate: float = 0.3) -> Reviews:
    """`n` generated reviews: one genre's subjects praised with one genre's adjectives.

    Label 1 iff the adjectives' genre is the subjects' genre (probability `match_rate`).
    With probability `verdict_rate` a review also has a plain verdict ("overall superb")
    that agrees with its label. Seeded: the same arguments give the same reviews.
    """
    rng = np.random.default_rng(seed)
    genres = list(GENRES)

    def pick(options):
        return options[rng.integers(len(options))]

    texts, labels = [], []
    for _ in range(n):
        subject_genre = pick(genres)
        if rng.random() < match_rate:
            praise_genre = subject_genre
        else:
            praise_genre = pick([g for g in genres if g != subject_genre])
        label = int(praise_genre == subject_genre)
        subjects, adjectives = GENRES[subject_genre][0], GENRES[praise_genre][1]
        sentences = [pick(_PAIR_TEMPLATES).format(s1=pick(subjects), s2=pick(subjects),
                                                  a1=pick(adjectives), a2=pick(adjectives))]
        if rng.random() < verdict_rate:
            sentences.append(pick(_VERDICT_TEMPLATES).format(w=pick(POSITIVE if label else NEGATIVE)))
        order = rng.permutation(len(sentences))
        texts.append(" . ".join(sentences[i] for i in order))
        labels.append(label)
    return texts, np.asarray(labels, dtype=np.int64)


def synthetic_unlabelled(*, seed: int = 0, sentence_length: int = 12) -> List[str]:
    """Unlabelled text in which every `filler_words` word occurs once (seeded order).

    The stand-in for aclImdb's ``unsup/`` reviews: the vocabulary is adapted on it too, so
    everyday words are tokens the tab knows, while the model trains on the labelled reviews
    only and leaves them where they started (small random vectors). Why not mix them into
    the labelled reviews: Adam moves even a word seen a few times a long way along the
    gradient of its reviews, so ~2,400 such words landed among the planted ones (5 nearest
    words in their group: 0.8 of 5 on average instead of 5.0, seed 1).
    """
    words = filler_words()
    order = np.random.default_rng(seed).permutation(len(words))
    return [" ".join(words[i] for i in order[start:start + sentence_length])
            for start in range(0, len(words), sentence_length)]


class ReviewsNotFound(FileNotFoundError):
    """A requested review source is not available; the message says how to get it."""


def read_aclimdb(path: str, *, split: str = "train", limit: Optional[int] = None) -> Reviews:
    """Reviews of `split` from an ``aclImdb/`` folder: ``<split>/pos/*.txt`` (label 1) and
    ``<split>/neg/*.txt`` (label 0), in sorted file order, positives and negatives
    interleaved (so that `limit` keeps both). ``unsup/`` is ignored."""
    files = {}
    for label, folder in ((1, "pos"), (0, "neg")):
        pattern = os.path.join(path, split, folder, "*.txt")
        files[label] = sorted(glob.glob(pattern))
        if not files[label]:
            raise ReviewsNotFound(
                f"no reviews in {os.path.join(path, split, folder)} (expected the Stanford "
                f"aclImdb layout: {split}/pos/*.txt and {split}/neg/*.txt)")
    texts, labels = [], []
    for pos_file, neg_file in _interleave(files[1], files[0]):
        for label, file_name in ((1, pos_file), (0, neg_file)):
            if file_name is None:
                continue
            with open(file_name, encoding="utf-8", errors="replace") as handle:
                texts.append(handle.read())
            labels.append(label)
    if limit is not None:
        texts, labels = texts[:limit], labels[:limit]
    return texts, np.asarray(labels, dtype=np.int64)


def _interleave(first, second):
    for i in range(max(len(first), len(second))):
        yield (first[i] if i < len(first) else None), (second[i] if i < len(second) else None)


def load_tfds(*, download: bool = True, limit: Optional[int] = None) -> Reviews:
    """The ``imdb_reviews`` train split via tensorflow-datasets (download when allowed)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ReviewsNotFound(
            "tensorflow-datasets is not installed (pip install tensorflow-datasets)") from None
    try:
        dataset = tfds.load("imdb_reviews", split="train", as_supervised=True, download=download)
    except Exception as exc:  # noqa: BLE001 - no network, not prepared, ...: tfds raises many kinds
        raise ReviewsNotFound(f"tensorflow-datasets could not load imdb_reviews: {exc}") from None
    if limit is not None:
        dataset = dataset.take(limit)
    texts, labels = [], []
    for text, label in tfds.as_numpy(dataset):
        texts.append(text.decode("utf-8", errors="replace"))
        labels.append(int(label))
    return texts, np.asarray(labels, dtype=np.int64)


def default_aclimdb_dirs() -> List[str]:
    """Where an unpacked aclImdb is looked for when no --data is given: the working
    directory, and where ``tf.keras.utils.get_file(..., untar=True)`` puts it."""
    return [os.path.abspath("aclImdb"),
            os.path.join(os.path.expanduser("~"), ".keras", "datasets", "aclImdb")]
