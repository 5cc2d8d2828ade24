"""`make lint`'s check of the deployment files under deploy/ (docs/deployment.md).

Uses the real checkers where they are installed: hadolint (Dockerfiles), `docker compose config` (the
compose file) and kubeconform (the Kubernetes manifests, strict, against the Kubernetes schemas). Where
one is missing, a structural check in Python stands in, and says so:

- Dockerfiles: every instruction is a known one, FROM comes first, the base image has a tag, CMD is JSON;
- compose: YAML that parses (anchors and merge keys resolved), every service has an image or a build,
  `depends_on` names existing services, every `${VAR:?...}` is documented in deploy/env.example;
- Kubernetes: every document has apiVersion, kind and metadata.name of a known kind; Deployments and
  StatefulSets have a selector matching their pod labels, containers with an image, and desk/rasa/actions
  containers readiness and liveness probes; secrets are referenced (secretKeyRef/secretRef), never a
  Secret with data in the files; Services select pods that exist; the Ingress backend is a Service.

Exit code 1 with one line per problem.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}  # fmt: skip
KINDS = {"Namespace", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "Job", "Ingress", "Kustomization"}
PROBED = {"desk", "rasa", "actions"}


def dockerfile_problems(path: Path) -> list[str]:
    """Structural problems of a Dockerfile (continuation lines joined)."""
    problems: list[str] = []
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines or not lines[0].upper().startswith("FROM "):
        problems.append(f"{path.name}: the first instruction must be FROM")
    for line in lines:
        word = line.split(None, 1)[0].upper()
        if word not in INSTRUCTIONS:
            problems.append(f"{path.name}: unknown instruction {word}")
        if word == "FROM" and ":" not in line.split()[1]:
            problems.append(f"{path.name}: pin the base image's tag ({line})")
        if word == "CMD":
            try:
                json.loads(line.split(None, 1)[1])
            except (IndexError, ValueError):
                problems.append(f"{path.name}: CMD must be the JSON (exec) form")
    return problems


def compose_problems(path: Path, env_example: Path) -> list[str]:
    problems: list[str] = []
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    services: dict[str, Any] = doc.get("services") or {}
    if not services:
        return [f"{path.name}: no services"]
    for name, svc in services.items():
        if not isinstance(svc, dict) or not (svc.get("image") or svc.get("build")):
            problems.append(f"{path.name}: service {name} has neither image nor build")
            continue
        depends = svc.get("depends_on") or []
        for dep in depends if isinstance(depends, list) else list(depends):
            if dep not in services:
                problems.append(f"{path.name}: service {name} depends on unknown service {dep}")
    documented = set(re.findall(r"^([A-Z_]+)=", env_example.read_text(encoding="utf-8"), re.M))
    for var in sorted(set(re.findall(r"\$\{([A-Z_]+):\?", path.read_text(encoding="utf-8"))) - documented):
        problems.append(f"{path.name}: ${{{var}}} is required but not in {env_example.name}")
    return problems


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec") or {}
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        return list(((spec.get("template") or {}).get("spec") or {}).get("containers") or [])
    return []


def k8s_problems(folder: Path) -> list[str]:
    problems: list[str] = []
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append((path.name, doc))
    pod_labels: list[dict[str, str]] = []
    services: set[str] = set()
    for name, doc in docs:
        kind = doc.get("kind")
        if not doc.get("apiVersion") or kind not in KINDS:
            problems.append(f"{name}: unknown or missing apiVersion/kind ({kind})")
            continue
        if kind != "Kustomization" and not (doc.get("metadata") or {}).get("name"):
            problems.append(f"{name}: {kind} without metadata.name")
        if kind == "Secret" and (doc.get("data") or doc.get("stringData")):
            problems.append(f"{name}: a Secret with values in the repository; reference it, create it outside")
        if kind == "Service":
            services.add(doc["metadata"]["name"])
        if kind in ("Deployment", "StatefulSet"):
            template = (doc.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                problems.append(f"{name}: {kind} {doc['metadata']['name']}: selector does not match the pod labels")
            pod_labels.append(labels)
        for container in _containers(doc):
            if not container.get("image"):
                problems.append(f"{name}: container {container.get('name')} has no image")
            if kind != "Job" and container.get("name") in PROBED:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in container:
                        problems.append(f"{name}: container {container['name']} has no {probe}")
            for env in container.get("env") or []:
                if "value" in env and re.search(r"(TOKEN|PASSWORD|SECRET|KEY)", env.get("name", "")):
                    problems.append(f"{name}: {env['name']} is inlined; use a secretKeyRef")
    for name, doc in docs:
        if doc.get("kind") == "Service":
            selector = (doc.get("spec") or {}).get("selector") or {}
            if not any(all(labels.get(k) == v for k, v in selector.items()) for labels in pod_labels):
                problems.append(f"{name}: Service {doc['metadata']['name']} selects no pods")
        if doc.get("kind") == "Ingress":
            for rule in (doc.get("spec") or {}).get("rules") or []:
                for path in ((rule.get("http") or {}).get("paths")) or []:
                    backend = path["backend"]["service"]["name"]
                    if backend not in services:
                        problems.append(f"{name}: Ingress backend {backend} is not a Service")
    return problems


def _run(argv: list[str]) -> list[str]:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0:
        return []
    return [f"{' '.join(argv[:2])}: {line}" for line in (done.stdout + done.stderr).strip().splitlines()[-20:]]


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


def main() -> int:
    problems: list[str] = []
    notes: list[str] = []
    dockerfiles = [DEPLOY / "Dockerfile", DEPLOY / "Dockerfile.rasa"]
    for dockerfile in dockerfiles:
        problems += dockerfile_problems(dockerfile)
    if shutil.which("hadolint"):
        problems += _run(["hadolint", *map(str, dockerfiles)])
    else:
        notes.append("hadolint not installed: Dockerfiles checked structurally")
    problems += compose_problems(DEPLOY / "compose.yaml", DEPLOY / "env.example")
    if _has_compose():
        env = DEPLOY / "env.example"
        problems += _run(["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "--env-file", str(env), "config",
                          "--quiet"])  # fmt: skip
    else:
        notes.append("`docker compose` not available: compose.yaml checked structurally")
    problems += k8s_problems(DEPLOY / "k8s")
    if shutil.which("kubeconform"):
        manifests = [str(p) for p in sorted((DEPLOY / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml"]
        problems += _run(["kubeconform", "-strict", "-summary", *manifests])
    else:
        notes.append("kubeconform not installed: Kubernetes manifests checked structurally")
    for line in problems:
        print(line)
    print(f"deploy files: {'ok' if not problems else f'{len(problems)} problems'}" +
          (f" ({'; '.join(notes)})" if notes else ""))  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
