"""What ``make demo`` runs besides the two apps: the mail inbox and the social-link seed.

Kept out of ``idp/`` and ``portal/`` on purpose: nothing here is ever deployed. The stand-in
social providers are the test fakes (``tests/fakes``) started with ``--demo``, so the demo
and the tests exercise the very same protocol doubles.
"""
