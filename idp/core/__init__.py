"""The idp's domain core: realms, customers, credentials, required actions, sessions,
clients, keys, logout, federation linking and audit.

Nothing here knows HTTP: no Flask, no Werkzeug, no ``g`` or ``session``. Functions take
what they need (realm, settings, clock) as arguments, so the sign-in pages, the protocol
endpoints, the CLI and the admin console all call the same code. Models are declared on
the Flask-SQLAlchemy ``db`` object (the one Flask extension the core may use).
"""
