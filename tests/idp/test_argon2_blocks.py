"""The argon2id check in a huge-page block (idp/core/credentials.py) answers exactly as
argon2-cffi's own ``PasswordHasher.verify``, whatever the hash's parameters, and refuses
what it cannot read instead of failing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError

from idp.core import credentials


@dataclass
class _Cfg:
    hasher: PasswordHasher


PARAMS = [dict(time_cost=1, memory_cost=8, parallelism=1),
          dict(time_cost=2, memory_cost=19456, parallelism=1),
          dict(time_cost=3, memory_cost=4096, parallelism=2)]


@pytest.mark.parametrize("params", PARAMS)
def test_same_answer_as_the_library(params):
    hasher = PasswordHasher(**params)
    stored = hasher.hash("Bonjour-2026! é")
    assert credentials._HUGE_PAGES  # the path under test is the one taken here
    assert credentials._verify_argon2id(stored, "Bonjour-2026! é".encode())
    assert hasher.verify(stored, "Bonjour-2026! é")
    for wrong in ("Bonjour-2026!", "", "bonjour-2026! é", "Bonjour-2026! é "):
        assert not credentials._verify_argon2id(stored, wrong.encode())
        assert not credentials._argon2_ok(_Cfg(hasher), stored, wrong)
    assert credentials._argon2_ok(_Cfg(hasher), stored, "Bonjour-2026! é")
    assert credentials._blocks == {}  # every block given back


def test_unreadable_hashes_are_refused():
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    stored = hasher.hash("x")
    head, salt, digest = stored.rsplit("$", 2)
    for broken in (f"{head}${salt}", f"{head}${salt}$!!!{digest}", f"{head}$$",
                   f"{head}${salt}${digest}$extra", "$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$YQ",
                   f"{head}${salt}${digest[:-2]}"):
        assert not credentials._argon2_ok(_Cfg(hasher), broken, "x"), broken
    with pytest.raises(InvalidHashError):
        credentials._verify_argon2id(f"{head}${salt}$!!!{digest}", b"x")
    assert credentials._blocks == {}


def test_other_argon2_kinds_go_to_the_library():
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I)
    stored = hasher.hash("x")
    assert stored.startswith("$argon2i$")
    assert credentials._argon2_ok(_Cfg(hasher), stored, "x")
    assert not credentials._argon2_ok(_Cfg(hasher), stored, "y")
