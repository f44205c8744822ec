"""Search and word lookup on compact metadata columns test each distinct value once."""

import re

import numpy as np

from tb_embedanalysis.analysis import text_match
from tb_embedanalysis.logs.model import Column


def test_compact_columns_match_what_a_row_by_row_search_finds():
    rng = np.random.default_rng(0)
    words = ["cat", "Catalog", "dog", "über", "Ünder", "x+y", "3", "13", "33"]
    values = [words[i] for i in rng.integers(0, len(words), 5000)]
    column = Column.from_values(values)
    for pattern in ("cat", "^3$", "3", "ü", "x+y", "(", "^(dog|cat)$"):
        total, rows = text_match.search([column], pattern, limit=50)
        try:
            expected = [i for i, v in enumerate(values) if re.search(pattern, v, re.IGNORECASE)]
        except re.error:
            expected = [i for i, v in enumerate(values) if pattern.lower() in v.lower()]
        assert (total, rows) == (len(expected), expected[:50]), pattern
    assert text_match.find_value(column, "CAT") == [i for i, v in enumerate(values) if v == "cat"]
    assert text_match.find_value(column, "dog") == [i for i, v in enumerate(values) if v == "dog"]


def test_a_million_rows_of_ten_labels_search_within_the_time_budget():
    codes = np.arange(1_000_000, dtype=np.int32) % 10
    column = Column(codes, tuple("label%d" % i for i in range(10)))
    total, rows = text_match.search([column], "label[37]$", limit=5, time_budget=1.0)
    assert total == 200_000 and rows == [3, 7, 13, 17, 23]
