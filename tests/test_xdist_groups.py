"""The suites with their own clusters, servers or browser run whole on one xdist worker:
the scheduler of tests/conftest.py gives each group one work unit (pytest-xdist's own
``loadgroup`` no longer groups anything under pytest 9.2)."""

from __future__ import annotations

import pytest

from tests.conftest import _group_of, pytest_xdist_make_scheduler


@pytest.mark.parametrize(("nodeid", "group"), [
    ("tests/ops/test_outages.py::test_x", "ops"),
    ("tests/e2e/test_journey_browser.py::test_y[chromium]", "e2e"),
    ("tests/demo/test_demo_e2e.py::test_z[chromium-x]", "demo"),
    ("tests/idp/test_tokens.py::test_a", None),
    ("tests/admin/test_console_browser.py::test_b[chromium]", None),
])
def test_a_test_is_in_the_group_of_its_directory(nodeid, group):
    assert _group_of(tuple(nodeid.split("::")[0].split("/"))) == group


def test_loadgroup_gives_a_group_one_work_unit_and_any_other_test_its_own(pytestconfig,
                                                                          monkeypatch):
    monkeypatch.setattr(pytestconfig.option, "dist", "loadgroup", raising=False)
    monkeypatch.setattr(pytestconfig.option, "numprocesses", 2, raising=False)
    monkeypatch.setattr(pytestconfig.option, "tx", ["popen", "popen"], raising=False)
    scheduler = pytest_xdist_make_scheduler(pytestconfig, None)
    split = scheduler._split_scope
    assert split("tests/ops/test_outages.py::test_x") == split("tests/ops/test_logs.py::t")
    assert split("tests/e2e/a.py::t1") == split("tests/e2e/b.py::t2") != split("tests/ops/c.py::t")
    assert split("tests/idp/a.py::t1") != split("tests/idp/a.py::t2")


def test_other_distributions_keep_xdist_s_scheduler(pytestconfig, monkeypatch):
    monkeypatch.setattr(pytestconfig.option, "dist", "load", raising=False)
    assert pytest_xdist_make_scheduler(pytestconfig, None) is None
