"""The OpenID Provider: Authlib server wiring, grants, keys, claims and endpoints."""
