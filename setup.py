"""Packaging for tb-embedanalysis: a TensorBoard dynamic plugin for embedding error analysis."""

import pathlib
import re

import setuptools

HERE = pathlib.Path(__file__).parent
# The version lives in one place, the package's __version__ (read, not imported: importing
# would need the dependencies at build time). CHANGELOG.md has a section per version.
VERSION = re.search(
    r'^__version__ = "([^"]+)"$', (HERE / "tb_embedanalysis" / "__init__.py").read_text(encoding="utf-8"), re.M
).group(1)

TEST_REQUIRES = [
    "pytest>=8",
    # `make test` runs the suite on both cores of the 2-core CI machine (-n 2 --dist
    # loadfile; tests/xdist_groups.py says what runs where): serially it had reached the
    # 15-minute CI aim. The reference plugin for it; pure Python (execnet too).
    "pytest-xdist>=3.5",
    "hypothesis>=6.84",  # st.characters(exclude_categories=...)
    "playwright>=1.40",
    "tensorboardX>=2.6",
    "cleanlab>=2.6",
    # Logs written by the writers people use (tests/test_logs_writers.py): the Keras 2
    # TensorBoard callback is tf_keras, whose release must be TensorFlow's own (tf_keras
    # 2.21 requires tensorflow 2.21; tested with 2.21); Keras 3 comes with TensorFlow, and
    # its .weights.h5 files are read (and written in tests) with h5py.
    "tf_keras~=2.21.0",
    "h5py>=3.0",
    # The linter and the type checker `make test` runs at zero findings (tests/test_static.py).
    # Pinned: a new release adds rules, and zero findings must mean the same thing in CI as
    # on a laptop. ruff: pyflakes + bugbear and more in one fast wheel; mypy: the reference
    # type checker, a pure-Python wheel on every platform.
    "ruff==0.17.6",
    "mypy==2.4.1",
]
# `make dist`: sdist and wheel, checked as PyPI will render them (README as the long
# description). Part of [test] too: tests/test_release.py runs the same two commands.
RELEASE_REQUIRES = ["build>=1.0", "twine>=5.1"]
# `tb-embedanalysis precompute --engine dask` (tb_embedanalysis/precompute/dask_runner.py says
# why Dask rather than Ray); distributed brings dask, and dask fsspec (cache URLs). 2024.8 is
# the last release line for Python 3.9; tested with 2026.8.
DASK_REQUIRES = ["distributed>=2024.8", "fsspec>=2024.6"]
TEST_REQUIRES += RELEASE_REQUIRES + DASK_REQUIRES
# hnswlib left out: it ships no wheel (a compiler per install); faiss-cpu covers HNSW as a peer.
BENCH_REQUIRES = ["faiss-cpu", "pynndescent", "usearch", "cleanlab", "psutil", "playwright"]

setuptools.setup(
    name="tb-embedanalysis",
    version=VERSION,
    description="TensorBoard tab for error analysis of embeddings: exact neighbours, "
    "per-label cluster statistics and hard examples, computed on the server.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    # The frontend and the demos live at the top level (frontend/, demo/) where people look
    # for them, but they must ship inside the package (the plugin serves the frontend,
    # `tb-embedanalysis demo` runs the demos): map them as sub-packages.
    packages=setuptools.find_packages(include=["tb_embedanalysis", "tb_embedanalysis.*"])
    + ["tb_embedanalysis.frontend", "tb_embedanalysis.demo"],
    package_dir={"tb_embedanalysis.frontend": "frontend", "tb_embedanalysis.demo": "demo"},
    package_data={
        "tb_embedanalysis": ["http_api.md"],
        "tb_embedanalysis.frontend": ["*.js", "*.css", "*.html", "*.svg", "views/*.js", "panels/*.js"],
    },
    # Each floor is the lowest release that works, not a guess: tests/test_install_floors.py
    # installs exactly these (no [tf]) into a fresh venv and runs a smoke test there.
    install_requires=[
        "tensorboard>=2.14.1",  # 2.14.0 imports six without requiring it
        "numpy>=1.23",
        "werkzeug>=2.0",
        "pillow>=9.1",  # Image.Resampling (writer/sprite.py)
        "scikit-learn>=1.6",  # what umap-learn 0.5.12 requires
        "tqdm>=4.60",
        # RE2 for the metadata search: linear-time matching and bounded compiling, so a
        # user's pattern can neither hang nor exhaust TensorBoard (see analysis/text_match.py).
        "google-re2>=1.1",
        # openTSNE for t-SNE maps (chosen by measurement, bench/README.md). No neighbour
        # library: large-N kNN is exact numpy (analysis/certified.py, issue 14); hnswlib
        # shipped no wheel and its misses changed the hard examples from run to run.
        "openTSNE>=1.0",
        # umap-learn for UMAP maps: the reference implementation (what the Projector,
        # FiftyOne and Embedding Atlas run), seeded for reproducible maps. It brings numba,
        # llvmlite and pynndescent, all with wheels for Linux, macOS (arm64: macOS >= 12)
        # and Windows; the neighbour graph it starts from is our exact one (projection.py).
        "umap-learn>=0.5.12",  # the release tested (precomputed_knn without an index, tqdm_kwds)
        # numba compiles the exact search's top-k fold (analysis/topk_fold.py); umap-learn
        # brings it too, but we import it ourselves, so we declare it: 0.57 is the first
        # release with wheels for Python 3.11, and it has them for Linux, macOS and Windows.
        "numba>=0.57",
    ],
    extras_require={
        # `tensorflow`, never `tensorflow-cpu`: a different distribution of the same files,
        # which pip would install over a user's GPU build (and tf_keras pulls `tensorflow`
        # anyway). Its Linux wheel runs on machines without a GPU.
        "tf": ["tensorflow>=2.15"],
        "dask": DASK_REQUIRES,
        "test": TEST_REQUIRES,
        "bench": BENCH_REQUIRES,
        "release": RELEASE_REQUIRES,
    },
    entry_points={
        "tensorboard_plugins": [
            "embedanalysis = tb_embedanalysis.plugin.loader:EmbedAnalysisLoader",
        ],
        "console_scripts": ["tb-embedanalysis = tb_embedanalysis.cli:main"],
    },
)
