"""The Kubernetes manifests (deploy/kubernetes) against the vendored Kubernetes v1.33
JSON schemas (strict: an unknown or misspelt field is refused), offline, plus what the
schemas cannot say: probes on /readyz and /healthz, requests on every container, a
PodDisruptionBudget per web app, secrets only from Secrets, one server command."""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
SCHEMAS = K8S / "schemas" / "v1.33.0"
SECRET_WORDS = ("SECRET", "PASSWORD", "DATABASE_URI", "TOKEN", "DATA_KEY")


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]


def manifests() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, d) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in documents(p.name)]


def schema_file(doc: dict[str, Any]) -> Path:
    group, _, version = doc["apiVersion"].rpartition("/")
    name = doc["kind"].lower() + (f"-{group.split('.')[0]}" if group else "") + f"-{version}"
    return SCHEMAS / f"{name}.json"


@functools.cache
def registry() -> Registry:
    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


def errors(doc: dict[str, Any]) -> list[str]:
    path = schema_file(doc)
    if not path.exists():
        return [f"no vendored schema for {doc['apiVersion']} {doc['kind']}"]
    validator = jsonschema.Draft202012Validator(json.loads(path.read_text()),
                                                registry=registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(("name", "doc"), manifests(),
                         ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in manifests()])
def test_manifest_matches_the_kubernetes_schema(name, doc):
    assert errors(doc) == []


def test_the_check_refuses_a_broken_manifest():
    deployment = next(d for _, d in manifests() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "two"
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "pathh"] = "/readyz"
    found = errors(broken)
    assert len(found) == 2, found
    assert any("replicas" in e for e in found) and any("pathh" in e for e in found)


def pods(doc: dict[str, Any]) -> dict[str, Any] | None:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec")


def test_web_apps_probe_readyz_and_healthz_and_keep_one_instance():
    web = {d["metadata"]["name"]: d for _, d in manifests()
           if d["kind"] == "Deployment" and d["metadata"]["name"] in ("idp", "portal")}
    assert set(web) == {"idp", "portal"}
    budgets = [d for _, d in manifests() if d["kind"] == "PodDisruptionBudget"]
    for name, deployment in web.items():
        (container,) = pods(deployment)["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["command"] == ["/app/config/serve.sh", name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b["spec"]["minAvailable"] for b in budgets if all(
            labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items())] == [1]
        assert deployment["spec"]["replicas"] >= 2
    serve = ROOT / "config" / "serve.sh"
    assert os.access(serve, os.X_OK) and "COPY config ./config" in (
        ROOT / "Dockerfile").read_text()


def test_every_container_has_requests_and_secrets_come_from_secrets():
    declared = {d["metadata"]["name"]: d for d in documents("secrets.example.yaml")}
    assert set(declared) == {"idp-secrets", "portal-secrets"}
    for _, doc in manifests():
        if doc["kind"] == "ConfigMap":
            leaked = [k for k in doc["data"] if any(w in k for w in SECRET_WORDS)]
            assert leaked == []
        spec = pods(doc)
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            requests = container["resources"]["requests"]
            assert set(requests) == {"cpu", "memory"}
            assert "memory" in container["resources"]["limits"]
            refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
            assert len(refs) == 1 and refs[0] in declared
            assert [e for e in container.get("env", []) if any(
                w in e["name"] for w in SECRET_WORDS)] == []


def test_the_contract_settings_are_all_provided():
    """Every setting DESIGN §3 requires is set by a ConfigMap or a Secret."""
    provided = set()
    for _, doc in manifests():
        provided |= set(doc.get("data") or doc.get("stringData") or {})
    assert {"IDP_SQLALCHEMY_DATABASE_URI", "IDP_SECRET_KEY", "IDP_PUBLIC_URL",
            "IDP_MAIL_SERVER", "IDP_MAIL_PORT", "IDP_MAIL_DEFAULT_SENDER",
            "IDP_RATELIMIT_STORAGE_URI", "PORTAL_OIDC_ISSUER", "PORTAL_OIDC_CLIENT_ID",
            "PORTAL_OIDC_CLIENT_SECRET", "PORTAL_PUBLIC_URL",
            "PORTAL_SQLALCHEMY_DATABASE_URI", "PORTAL_SECRET_KEY"} <= provided


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(documents("kustomization.yaml")[0]["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml",
                                                      "secrets.example.yaml"}
    assert listed == present
