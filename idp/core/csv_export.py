"""The one way the idp writes CSV for people to open: every export (console, admin API,
CLI) goes through :func:`lines`, so every cell is neutralised against spreadsheet
formulas and the file is produced in chunks (constant memory, whatever the row count).

Why a leading apostrophe: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is run as a formula by Excel and LibreOffice (CSV injection, OWASP); a
customer's name, an email or an audit detail can start with one. The apostrophe makes
the spreadsheet show the text as typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64_000  # characters per piece handed to the response or the file


def cell(value: Any) -> str:
    """The text of one cell, with a leading ``'`` if a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
          lineterminator: str = "\r\n") -> Iterator[str]:
    """The CSV text, header first, in pieces of about ``CHUNK`` characters."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator=lineterminator,
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
        if buf.tell() > CHUNK:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
