"""metadata.tsv parsing and the label-column guess."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_embedanalysis.logs.errors import MetadataError
from tb_embedanalysis.logs.metadata import guess_label_column, read_metadata
from tb_embedanalysis.logs.model import Metadata


def read(tmp_path, content, num_rows, *, encoding="utf-8"):
    path = tmp_path / "metadata.tsv"
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    metadata, warnings = read_metadata(str(path), num_rows=num_rows, tensor_name="FINAL_LOGITS")
    return metadata, warnings


@pytest.mark.parametrize("content", ["3\n1\n4\n", "3\r\n1\r\n4\r\n", "3\n1\n4", "3\n1\n4\n\n\n"],
                         ids=["lf", "crlf", "no-final-newline", "trailing-blank-lines"])
def test_single_column_has_no_header(tmp_path, content):
    metadata, _ = read(tmp_path, content, 3)
    assert metadata.columns == ("label",) and metadata.column("label").tolist() == ["3", "1", "4"]


def test_several_columns_have_a_header_and_keep_empty_fields_and_utf8(tmp_path):
    metadata, _ = read(tmp_path, "Index\tLabel\tword\n0\t7\tcafé\n1\t\t東京\n2\t7\n", 3)
    assert metadata.columns == ("Index", "Label", "word")
    assert metadata.row(1) == {"Index": "1", "Label": "", "word": "東京"}
    assert metadata.row(2)["word"] == ""  # a short row: missing trailing fields are empty


def test_empty_values_in_single_column_are_rows(tmp_path):
    metadata, _ = read(tmp_path, "a\n\nb\n", 3)
    assert metadata.column("label").tolist() == ["a", "", "b"]


@pytest.mark.parametrize("rows, expected", [(9999, "has 9,999 rows but tensor FINAL_LOGITS has 10,000"),
                                            (10002, "has 10,002 rows but tensor FINAL_LOGITS has 10,000")],
                         ids=["fewer", "more"])
def test_row_count_mismatch_names_file_and_tensor(tmp_path, rows, expected):
    with pytest.raises(MetadataError, match="metadata.tsv " + expected):
        read(tmp_path, "".join("%d\n" % (i % 10) for i in range(rows)), 10_000)


def test_single_column_header_row_is_refused_not_shifted(tmp_path):
    content = "Label\n" + "".join("%d\n" % (i % 10) for i in range(100))
    with pytest.raises(MetadataError, match=r"101 rows but tensor FINAL_LOGITS has 100; if its first line "
                                            r"'Label' is a header, remove it"):
        read(tmp_path, content, 100)


def test_multi_column_rows_longer_than_the_header(tmp_path):
    with pytest.raises(MetadataError, match=r"metadata.tsv line 3 has 3 fields but the header has 2"):
        read(tmp_path, "a\tb\n1\t2\n1\t2\t3\n", 2)


def test_not_utf8_names_the_line(tmp_path):
    with pytest.raises(MetadataError, match=r"metadata.tsv is not UTF-8 text \(line 2"):
        read(tmp_path, "ok\n\xe9t\xe9\n".encode("latin-1"), 2)


def test_duplicate_column_names_are_renamed_with_a_warning(tmp_path):
    metadata, warnings = read(tmp_path, "x\tx\n1\t2\n", 1)
    assert metadata.columns == ("x", "x (2)") and "appears twice" in warnings[0]


def metadata_of(columns):
    return Metadata(columns=tuple(columns), values={k: tuple(v) for k, v in columns.items()})


@pytest.mark.parametrize("columns, expected", [
    ({"Index": [str(i) for i in range(10)], "Label": list("0101010101")}, "Label"),
    ({"id": [str(i) for i in range(10)], "CLASS": list("ab" * 5), "g": list("a" * 9 + "b")}, "CLASS"),
    ({"id": [str(i) for i in range(10)], "colour": list("rgbrgbrgbr"), "size": list("SMSMSMSMSM")}, "size"),
    ({"id": [str(i) for i in range(10)], "label": ["x"] * 10, "kind": list("ab" * 5)}, "kind"),
    ({"word": ["w%d" % i for i in range(10)], "id": [str(i) for i in range(10)]}, None),
    ({"label": list("0123456789" * 3)}, "label"),  # single column of repeating digits
    ({"label": ["w%d" % i for i in range(30)]}, None),  # single column of unique tokens
], ids=["mnist-header", "named-any-case", "fewest-distinct", "constant-label-skipped", "all-unique",
        "digit-labels", "word-tokens"])
def test_guess_label_column(columns, expected):
    assert guess_label_column(metadata_of(columns)) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\t\r\n"),
                                 max_size=5), min_size=2, max_size=2), min_size=1, max_size=20))
def test_two_column_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("meta") / "m.tsv"
    path.write_text("a\tb\n" + "".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    metadata, _ = read_metadata(str(path), num_rows=len(rows), tensor_name="t")
    assert [metadata.row(i) for i in range(len(rows))] == [{"a": a, "b": b} for a, b in rows]
