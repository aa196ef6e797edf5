"""The access line written straight to the JSON handler is the line the logging machinery
would have written, and any other destination still gets an ordinary record."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared import logging_json

FIELDS = {"app": "idp", "method": "POST", "path": "/realms/r/protocol/openid-connect/token",
          "endpoint": "oidc.token", "status": 200, "duration_ms": 1.2, "request_id": "rid-1",
          "remote_addr": "192.0.2.7"}
MESSAGE = "POST /realms/r/protocol/openid-connect/token 200 1.2ms"


@pytest.fixture
def json_only_root(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The root logger as deployed: the JSON handler alone, writing to a buffer."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging_json.JsonFormatter())
    handler.addFilter(logging_json.RequestIdFilter())
    setattr(handler, logging_json._HANDLER_MARK, True)
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "filters", [])
    monkeypatch.setattr(root, "level", logging.INFO)
    monkeypatch.setattr(logging_json.ACCESS_LOG, "handlers", [])
    monkeypatch.setattr(logging_json.ACCESS_LOG, "propagate", True)
    monkeypatch.setattr(logging_json.ACCESS_LOG, "level", logging.NOTSET)
    return stream


def test_direct_line_equals_the_formatted_record(json_only_root: io.StringIO) -> None:
    logging_json.ACCESS_LOG.info("%s", MESSAGE, extra=FIELDS)
    logging_json.write_access_line(FIELDS, MESSAGE)
    through_logging, direct = json_only_root.getvalue().splitlines()
    a, b = json.loads(through_logging), json.loads(direct)
    assert a.pop("ts")[:16] == b.pop("ts")[:16]  # same minute; the rest identical
    assert a == b
    assert list(a) == list(b)  # same key order too
    assert b["message"] == MESSAGE and b["request_id"] == "rid-1" and b["status"] == 200


def test_another_handler_gets_an_ordinary_record(json_only_root: io.StringIO,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=logging_json.ACCESS_LOG.name):
        logging_json.write_access_line(FIELDS, MESSAGE)
    records = [r for r in caplog.records if r.name == logging_json.ACCESS_LOG.name]
    assert len(records) == 1
    assert records[0].getMessage() == MESSAGE
    assert records[0].status == 200 and records[0].endpoint == "oidc.token"
