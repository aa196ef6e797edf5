"""A streamed CSV download for the console and the admin API (see
:mod:`idp.core.csv_export`): the rows are read while the response is sent, so an export
of a million customers never sits in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from flask import Response, stream_with_context

from ..core import csv_export


def csv_response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                 filename: str) -> Response:
    """The rows as ``text/csv``. Pull the first row before calling when reading it checks
    permissions, so a refusal is an error page and not a broken download."""

    def generate() -> Iterator[str]:
        yield from csv_export.lines(rows, columns)

    return Response(stream_with_context(generate()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})
