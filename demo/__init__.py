"""The demos behind `make demo` / `tb-embedanalysis demo` (see demo/digits.py, demo/imdb_words.py)."""
