"""The demos behind `make demo` / `tb-embedanalysis demo` (see demo/digits.py, demo/imdb_words.py).

    from tb_embedanalysis.demo import run_demos
    run_demos("demo_logs")          # offline: scikit-learn digits + a synthetic word corpus

Each demo writes one run (``digits`` or ``mnist``; ``words_synthetic`` or ``words_imdb``)
into a staging directory and renames it into place when complete, so a run that exists is
a complete run and is skipped the next time. Each demo is also a script:
``python -m tb_embedanalysis.demo.digits --logdir X`` (or ``python demo/digits.py ...``).
"""

from typing import Callable, Optional

__all__ = ["run_demos"]


def run_demos(logdir: str, *, progress: Callable[[str], None] = print,
              mnist_dir: Optional[str] = None, imdb: Optional[str] = None,
              threads: int = 2) -> None:
    """Write both demos' runs into `logdir`, skipping runs that exist already.

    mnist_dir: a folder with the four MNIST IDX files (default: scikit-learn's digits).
    imdb: an ``aclImdb/`` path, "tfds" or "synthetic" (default: IMDB if found locally,
      else the synthetic corpus, announced in one line).
    """
    # Imported here: `import tb_embedanalysis.demo` must stay cheap (no TensorFlow).
    from tb_embedanalysis.demo import digits, imdb_words

    digits.run(logdir, mnist_dir=mnist_dir, threads=threads, progress=progress)
    imdb_words.run(logdir, data=imdb, threads=threads, progress=progress)
