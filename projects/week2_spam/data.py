"""The SMS Spam Collection: 5,574 text messages, each labelled ham or spam.

Almeida, Gomez Hidalgo, Yamakami (2011), UCI ML repository dataset 228, CC BY 4.0.
The file is tab-separated ``label<TAB>text`` in UTF-8. It is parsed line by line
on the first tab, never as CSV: 145 messages contain ``"``, and a CSV reader with
quoting on silently merges them (5,572 rows instead of 5,574).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.data import fetch

LABELS = ("ham", "spam")  # spam is the positive class
POSITIVE = "spam"


def load_messages(path: str | Path | None = None) -> pd.DataFrame:
    """Columns ``label`` (ham/spam) and ``text``, one row per line of the file.

    ``path=None`` reads the SMS Spam Collection (downloaded and verified by sha256);
    any other file in the same ``label<TAB>text`` format works too.
    """
    path = fetch("sms_spam") if path is None else Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"data file not found: {path}; pass data.path=<label<TAB>text file>"
        )
    rows = [parse_line(line, number, path) for number, line in enumerate(read_lines(path), 1)]
    rows = [row for row in rows if row is not None]
    messages = pd.DataFrame(rows, columns=["label", "text"])
    present = set(messages["label"])
    if present != set(LABELS):
        raise ValueError(
            f"{path} holds {len(messages)} messages labelled {sorted(present)}; "
            f"a spam filter needs both {' and '.join(LABELS)}"
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
