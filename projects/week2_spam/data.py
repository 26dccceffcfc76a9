"""The SMS Spam Collection: 5,574 text messages, each labelled ham or spam.

Almeida, Gomez Hidalgo, Yamakami (2011), UCI ML repository dataset 228, CC BY 4.0.
The file is tab-separated ``label<TAB>text`` in UTF-8. It is parsed line by line
on the first tab, never as CSV: 145 messages contain ``"``, and a CSV reader with
quoting on silently merges them (5,572 rows instead of 5,574). A learner's own ``.csv``
file (with a header row) is read as CSV, from the columns the config names.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.data import fetch

LABELS = ("ham", "spam")  # spam is the positive class
POSITIVE = "spam"


def load_messages(
    path: str | Path | None = None, label_column: str = "label", text_column: str = "text"
) -> pd.DataFrame:
    """Columns ``label`` (ham/spam) and ``text``, one row per message of the file.

    ``path=None`` reads the SMS Spam Collection (downloaded and verified by sha256). Any
    other file in the same ``label<TAB>text`` format works too, and so does a ``.csv`` file
    with a header row (quoted fields, commas and newlines inside a message as CSV allows),
    read from its columns ``label_column`` and ``text_column``.
    """
    path = fetch("sms_spam") if path is None else Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"data file not found: {path}; pass data.path=<a label<TAB>text file, or a .csv>"
        )
    if path.suffix.lower() == ".csv":
        messages = read_csv_messages(path, label_column, text_column)
    else:
        rows = [parse_line(line, number, path) for number, line in enumerate(read_lines(path), 1)]
        messages = pd.DataFrame([row for row in rows if row is not None], columns=["label", "text"])
    present = set(messages["label"])
    if present != set(LABELS):
        raise ValueError(
            f"{path} holds {len(messages)} messages labelled {sorted(present)}; "
            f"a spam filter needs both {' and '.join(LABELS)}"
        )
    return messages


def read_csv_messages(path: Path, label_column: str, text_column: str) -> pd.DataFrame:
    """A CSV file's label and text columns as ``label``, ``text``; one line naming what is
    wrong with a file in another shape (a missing column, a label not ham or spam)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: byte {error.object[error.start]:#04x} at offset {error.start} is not "
            "UTF-8; re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(f"{path}: not a CSV file with a header row ({first})") from None
    for key, column in (("label_column", label_column), ("text_column", text_column)):
        if column not in table.columns:
            raise ValueError(
                f"{path} has no column {column!r} (its columns: {list(table.columns)}); "
                f"pass data.{key}=<one of them>"
            )
    messages = table[[label_column, text_column]].set_axis(["label", "text"], axis=1)
    unknown = sorted(set(messages["label"]) - set(LABELS))
    if unknown:
        row = int(messages.index[~messages["label"].isin(LABELS)][0]) + 2  # the header is 1
        raise ValueError(
            f"{path}, line {row}: unknown label {unknown[0][:30]!r} in column {label_column!r}; "
            f"expected one of {LABELS}"
        )
    return messages


def read_lines(path: Path) -> list[str]:
    """The file's lines, decoded as UTF-8 with one clear error for bytes that are not.

    Lines end at ``\\n`` (or ``\\r\\n``) only. ``str.splitlines`` would also break at
    U+0085, U+2028, U+2029, form feeds and the other Unicode line boundaries, which
    are characters inside a message here, not ends of one.
    """
    data = path.read_bytes()
    try:
        return [line.removesuffix("\r") for line in data.decode("utf-8").split("\n")]
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}, line {line}: byte {data[error.start]:#04x} is not UTF-8; "
            "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def parse_line(line: str, number: int, path: Path) -> tuple[str, str] | None:
    """``"spam\\tWIN a prize"`` -> ("spam", "WIN a prize"); a blank line -> None."""
    if not line.strip():
        return None
    label, tab, text = line.partition("\t")
    if not tab:
        raise ValueError(f"{path}, line {number}: no tab between label and text: {line[:60]!r}")
    if label not in LABELS:
        raise ValueError(
            f"{path}, line {number}: unknown label {label[:30]!r}; expected one of {LABELS}"
        )
    return label, text
