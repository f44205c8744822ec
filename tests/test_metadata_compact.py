"""The chunked, dict-encoding metadata parser gives what the line-by-line parser gave.

The oracle below is the previous parser (lists of lines and rows), kept as the reference
for the format's corner cases: BOM, \\r\\n, a lone \\r inside a field, short rows, trailing
blank lines, empty files. Chunks are made tiny so that every row straddles a boundary.
"""

import codecs
from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_embedanalysis.logs import column_codes, metadata as metadata_io, metadata_scan
from tb_embedanalysis.logs.errors import MetadataError


def reference(data: bytes, num_rows: int):
    """(columns, rows) as the line-by-line parser read them, or the MetadataError text."""
    text = data.decode("utf-8-sig")
    if text.endswith("\n"):
        text = text[:-1]
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")] if text else []
    if any("\t" in line for line in lines):
        header = metadata_io._unique_header(lines[0], "m.tsv", [])  # renaming is not what is compared
        rows = [line.split("\t") for line in lines[1:]]
    else:
        header, rows = ["label"], [[line] for line in lines]
    while len(rows) > num_rows and not any(rows[-1]):
        rows.pop()
    if len(rows) != num_rows:
        return "rows"
    if any(len(row) > len(header) for row in rows):
        return "fields"
    return tuple(header), [tuple(row[i] if i < len(row) else "" for i in range(len(header))) for row in rows]


def parsed(tmp_path, data: bytes, num_rows: int):
    path = tmp_path / "m.tsv"
    path.write_bytes(data)
    try:
        metadata, _ = metadata_io.read_metadata(str(path), num_rows=num_rows, tensor_name="t")
    except MetadataError as error:
        return "fields" if "fields but the header" in str(error) else "rows"
    return metadata.columns, [tuple(metadata.row(i).values()) for i in range(len(metadata))]


FIELD = st.text(alphabet=st.sampled_from(["a", "b", "é", "東", "\r", " "]), max_size=3)
LINE = st.lists(FIELD, min_size=1, max_size=4).map("\t".join)


@pytest.mark.parametrize("chunk_bytes", [7, 1 << 22], ids=["tiny-chunks", "default-chunks"])
@settings(max_examples=150, deadline=None)
@given(lines=st.lists(LINE | FIELD, max_size=12), crlf=st.booleans(), bom=st.booleans(),
       final_newline=st.booleans(), blank_tail=st.integers(0, 2), extra=st.integers(-1, 2))
def test_same_as_the_line_by_line_parser(tmp_path_factory, chunk_bytes, lines, crlf, bom, final_newline,
                                         blank_tail, extra):
    newline = "\r\n" if crlf else "\n"
    text = newline.join(lines + [""] * blank_tail) + (newline if final_newline else "")
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    expected_rows = reference(data, 10**9)
    if isinstance(expected_rows, str):
        expected_rows = reference(data, 0)
    count = len(expected_rows[1]) if not isinstance(expected_rows, str) else 0
    num_rows = max(0, count + extra)
    tmp_path = tmp_path_factory.mktemp("meta")
    default, metadata_io._CHUNK_BYTES = metadata_io._CHUNK_BYTES, chunk_bytes
    try:
        expected = reference(data, num_rows)
        assert parsed(tmp_path, data, num_rows) == expected
    finally:
        metadata_io._CHUNK_BYTES = default
    # The listing's scan agrees on columns, the row-count check and (a file under 512 KB) the guess.
    path = str(tmp_path / "m.tsv")
    if expected == "rows":
        with pytest.raises(MetadataError, match="rows but tensor t has|has a tab but line 1 has none"):
            metadata_scan.scan_metadata(path, num_rows=num_rows, tensor_name="t")
        return
    facts = metadata_scan.scan_metadata(path, num_rows=num_rows, tensor_name="t")
    if expected != "fields":  # rows longer than the header are only found by parsing
        metadata, _ = metadata_io.read_metadata(path, num_rows=num_rows, tensor_name="t")
        assert facts.columns == metadata.columns
        assert facts.label_column == metadata_io.guess_label_column(metadata)


def test_codes_follow_first_appearance_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(metadata_io, "_CHUNK_BYTES", 5)
    path = tmp_path / "m.tsv"
    path.write_text("id\tlabel\n" + "".join("%d\t%s\n" % (i, "cab"[i % 3]) for i in range(30)))
    metadata, _ = metadata_io.read_metadata(str(path), num_rows=30, tensor_name="t")
    label = metadata.values["label"]
    assert label.categories == ("c", "a", "b") and label.codes.tolist() == [0, 1, 2] * 10
    assert metadata.values["id"].categories == tuple(str(i) for i in range(30))


def test_trimmed_blank_rows_leave_no_unused_category(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("a\tb\n1\tx\n2\ty\n\t\n\n")
    metadata, _ = metadata_io.read_metadata(str(path), num_rows=2, tensor_name="t")
    assert metadata.values["a"].categories == ("1", "2") and metadata.values["b"].categories == ("x", "y")


@pytest.mark.parametrize("header, row, expected", [
    ("id\tlabel", lambda i: "%d\t%s" % (i, "abc"[i * 3 // 120_000]), "label"),  # sorted in blocks: rule 1
    ("word\tkind", lambda i: "w%07d\t%s" % (i, "vwxyz"[i % 5]), "kind"),  # no label name: rule 2 on the sample
    (None, lambda i: "token%07d" % i, None),  # a single column of unique tokens
], ids=["sorted-label-blocks", "fewest-distinct", "unique-words"])
def test_scan_of_a_big_file_guesses_as_parsing_does(tmp_path, header, row, expected):
    n = 120_000  # ~1.5 MB: sampled, not read whole
    path = tmp_path / "m.tsv"
    path.write_text(("%s\n" % header if header else "") + "".join(row(i) + "\n" for i in range(n)) + "\n\n")
    facts = metadata_scan.scan_metadata(str(path), num_rows=n, tensor_name="t")
    metadata, _ = metadata_io.read_metadata(str(path), num_rows=n, tensor_name="t")
    assert facts.label_column == metadata_io.guess_label_column(metadata) == expected
    assert facts.columns == metadata.columns
    # The 2 blank lines at the end are rows only when the tensor has rows for them.
    assert metadata_scan.scan_metadata(str(path), num_rows=n + 2, tensor_name="t").columns == facts.columns
    with pytest.raises(MetadataError, match="has 120,002 rows but tensor t has 120,003"):
        metadata_scan.scan_metadata(str(path), num_rows=n + 3, tensor_name="t")


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.lists(st.text(alphabet="abc", max_size=3), max_size=80), max_size=5))
def test_a_table_codes_values_in_order_of_first_appearance(chunks):
    # A column of distinct values is kept as a list and a set until a value repeats, in the
    # same chunk (within the first 64 values or after them) or in a later one.
    table = column_codes.Table()
    expected: Dict[str, int] = {}
    for chunk in chunks:
        codes = table.encode(chunk)
        assert codes.dtype == "int32"
        assert codes.tolist() == [expected.setdefault(value, len(expected)) for value in chunk]
        assert table.categories() == tuple(expected)
        assert all(table.code(value) == code for value, code in expected.items()) and table.code("zzzz") is None


def test_distinct_ids_then_a_repeat_far_into_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(metadata_io, "_CHUNK_BYTES", 300)  # the repeat comes chunks after its first appearance
    ids = ["id%d" % i for i in range(200)] + ["id7"] + ["id%d" % i for i in range(200, 260)]
    path = tmp_path / "m.tsv"
    path.write_text("id\tlabel\n" + "".join("%s\tx\n" % value for value in ids) + "\t\n")
    metadata, _ = metadata_io.read_metadata(str(path), num_rows=len(ids), tensor_name="t")
    column = metadata.values["id"]
    assert column.categories == tuple("id%d" % i for i in range(260))
    assert column.codes.tolist() == list(range(200)) + [7] + list(range(200, 260))
    assert tuple(column) == tuple(ids)


def test_column_bytes_as_sys_getsizeof_counts_them():
    import sys

    from tb_embedanalysis.logs.model import Column
    for values in (["p%d" % i for i in range(1000)], ["a", "é", "東京", ""], []):
        column = Column.from_values(values)
        assert column.nbytes == column.codes.nbytes + sys.getsizeof(column.categories) + sum(
            map(sys.getsizeof, column.categories))
