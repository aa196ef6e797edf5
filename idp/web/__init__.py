"""What every web package of the idp shares: the realm URL prefix, the per-request
context (realm, settings, the sign-in state), responses to clients, forms, mails and
rate limits. Web packages (``oidc``, ``flow``, ``account``, ``federation``) build on
this and on :mod:`idp.core`; they do not import each other, except ``federation`` →
``flow`` (the broker is a step of the sign-in flow).
"""
