"""Fake social identity providers (Google, LinkedIn, Facebook, X) for tests.

Each module is a small Flask app that speaks the real provider's protocol,
quirks included (as each provider documents it), so that
``idp.federation`` is tested against something that fails the way the real
thing fails.  Run one with ``python -m tests.fakes.google --port 0`` or all
four with :func:`tests.fakes.run.running_fakes`.
"""
