"""Create a customer and issue a temporary code with the admin API, knowing only its
OpenAPI document (``/admin/openapi.json``): operations are found by ``operationId``,
URLs built from the document's ``servers`` and ``paths``.

    python scripts/admin_api_example.py --idp https://idp.example --realm paris \\
        --client-id crm --client-secret … --identifier 100042 --email jean@example.test

The service client needs the scope ``admin:customers:write`` (docs/admin-api.md). Prints
the temporary code, once, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests


class AdminApi:
    """A tiny client driven by the OpenAPI document alone."""

    def __init__(self, idp: str, token: str) -> None:
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.doc = self.http.get(f"{idp.rstrip('/')}/admin/openapi.json", timeout=10).json()
        self.base = self.doc["servers"][0]["url"].rstrip("/")
        self.ops = {op["operationId"]: (method.upper(), path)
                    for path, item in self.doc["paths"].items()
                    for method, op in item.items()}

    def call(self, operation_id: str, params: dict[str, str], body: Any = None) -> Any:
        method, path = self.ops[operation_id]
        resp = self.http.request(method, self.base + path.format(**params), json=body,
                                 timeout=10)
        if resp.status_code >= 400:  # RFC 9457 problem details
            problem = resp.json()
            raise SystemExit(f"{operation_id}: {problem['status']} {problem['title']}: "
                             f"{problem.get('detail', '')}")
        return resp.json() if resp.content else None


def token(idp: str, realm: str, client_id: str, secret: str) -> str:
    """A client-credentials access token at the realm's token endpoint."""
    resp = requests.post(f"{idp.rstrip('/')}/realms/{realm}/protocol/openid-connect/token",
                         data={"grant_type": "client_credentials",
                               "scope": "admin:customers:write"},
                         auth=(client_id, secret), timeout=10)
    resp.raise_for_status()
    return resp.json()["access_token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idp", required=True)
    parser.add_argument("--realm", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--identifier", required=True)
    parser.add_argument("--email")
    args = parser.parse_args(argv)
    api = AdminApi(args.idp, token(args.idp, args.realm, args.client_id, args.client_secret))
    body: dict[str, Any] = {"identifier": args.identifier}
    if args.email:
        body["email"] = args.email
    customer = api.call("createCustomer", {"realm": args.realm}, body)
    code = api.call("issueTemporaryCode", {"realm": args.realm,
                                           "identifier": customer["identifier"]})
    json.dump({"identifier": customer["identifier"], "status": customer["status"],
               "temporary_code": code["temporary_code"]}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
