"""Loading labelled messages: the real corpus exactly, and one clear error per bad file."""

from __future__ import annotations

import os

import pytest

from projects.week2_spam.data import load_messages

MIRROR = os.environ.get("MATH4ML_DATA_MIRROR")


@pytest.mark.skipif(not MIRROR, reason="set MATH4ML_DATA_MIRROR to the offline dataset copies")
def test_the_sms_spam_collection_has_every_message_quotes_included():
    messages = load_messages()
    assert len(messages) == 5574
    assert messages["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}
    assert messages["text"].str.contains('"', regex=False).sum() == 145  # a CSV reader loses some


def write(tmp_path, content: bytes):
    path = tmp_path / "messages.tsv"
    path.write_bytes(content)
    return path


def test_a_file_in_the_same_format_loads_and_blank_lines_are_skipped(tmp_path):
    path = write(tmp_path, 'ham\tsee you at "noon"\n\nspam\tWIN £1000 now\t!\n'.encode())
    messages = load_messages(path)
    assert messages.values.tolist() == [["ham", 'see you at "noon"'], ["spam", "WIN £1000 now\t!"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ham\tok\nspam\tcaf\xe9 prize\n", r"line 2: byte 0xe9 is not UTF-8; re-encode"),
        (b"ham\tok\nspma\tprize\n", r"line 2: unknown label 'spma'; expected one of"),
        (b"ham\tok\nspam prize\n", r"line 2: no tab between label and text"),
        (b"ham\tok\nham\tfine\n", r"labelled \['ham'\]; a spam filter needs both"),
        (b"", r"labelled \[\]"),
    ],
)
def test_bad_files_fail_with_the_line_and_the_fix(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        load_messages(write(tmp_path, content))


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data file not found: .*nope\.tsv"):
        load_messages(tmp_path / "nope.tsv")


# Characters str.splitlines() takes for line ends: inside a message they are text.
UNICODE_LINE_BOUNDARIES = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("boundary", UNICODE_LINE_BOUNDARIES, ids=lambda c: f"U+{ord(c):04X}")
def test_a_unicode_line_boundary_inside_a_message_stays_in_that_message(tmp_path, boundary):
    texts = [f"call me{boundary}later", f"WIN{boundary}ham\tprize", f"ok{boundary}"]
    path = write(tmp_path, f"ham\t{texts[0]}\nspam\t{texts[1]}\nham\t{texts[2]}\n".encode())
    messages = load_messages(path)
    assert messages.values.tolist() == [["ham", texts[0]], ["spam", texts[1]], ["ham", texts[2]]]


def test_windows_line_ends_are_line_ends_and_the_error_line_counts_newlines(tmp_path):
    path = write(tmp_path, "ham\tok\r\nspam\tWIN\u2028now\r\n".encode())
    assert load_messages(path).values.tolist() == [["ham", "ok"], ["spam", "WIN\u2028now"]]
    with pytest.raises(ValueError, match=r"line 3: unknown label 'hma'"):
        load_messages(write(tmp_path, "ham\tok\u2028\nspam\tWIN\u0085\nhma\tx\n".encode()))


def test_a_csv_file_is_read_as_csv_quotes_commas_and_newlines_inside_a_message(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        'text,label,source\n"see you at ""noon"", ok?",ham,phone\n"WIN\nnow, call",spam,mail\n',
        encoding="utf-8",
    )
    messages = load_messages(path)
    assert messages.values.tolist() == [
        ["ham", 'see you at "noon", ok?'],
        ["spam", "WIN\nnow, call"],
    ]


def test_a_csv_files_columns_are_the_ones_the_config_names(tmp_path):
    path = tmp_path / "mine.CSV"
    path.write_text("category,message\nspam,FREE entry\nham,lunch?\n", encoding="utf-8")
    messages = load_messages(path, label_column="category", text_column="message")
    assert messages.values.tolist() == [["spam", "FREE entry"], ["ham", "lunch?"]]


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        (
            "category,message\nspam,x\nham,y\n",
            {},
            r"mine\.csv has no column 'label' \(its columns: \['category', 'message'\]\); "
            r"pass data\.label_column=<one of them>",
        ),
        (
            "label,body\nspam,x\nham,y\n",
            {},
            r"no column 'text' \(its columns: \['label', 'body'\]\); pass data\.text_column=",
        ),
        (
            "label,text\nspam,x\nSPAM,y\n",
            {},
            r"mine\.csv, line 3: unknown label 'SPAM' in column 'label'; expected one of",
        ),
        ("label,text\nham,x\nham,y\n", {}, r"labelled \['ham'\]; a spam filter needs both"),
        ("", {}, r"mine\.csv: not a CSV file with a header row"),
    ],
)
def test_a_csv_file_in_another_shape_fails_in_one_line_with_the_fix(
    tmp_path, content, columns, message
):
    path = tmp_path / "mine.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_messages(path, **columns)
