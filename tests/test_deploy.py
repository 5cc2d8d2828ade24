"""The deployment files pass `make lint`'s check (scripts/check_deploy.py), and the check catches mistakes."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

from knowledge_base.config import PROJECT_ROOT


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_deploy", PROJECT_ROOT / "scripts" / "check_deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_deployment_files_pass() -> None:
    check = checker()
    deploy = PROJECT_ROOT / "deploy"
    assert check.dockerfile_problems(deploy / "Dockerfile") == []
    assert check.dockerfile_problems(deploy / "Dockerfile.rasa") == []
    assert check.compose_problems(deploy / "compose.yaml", deploy / "env.example") == []
    assert check.k8s_problems(deploy / "k8s") == []


def test_the_check_names_what_is_wrong(tmp_path: Path) -> None:
    check = checker()
    (tmp_path / "Dockerfile").write_text("RUN echo hi\nFROM python\nCMD python app.py\nFROMM x\n")
    assert check.dockerfile_problems(tmp_path / "Dockerfile") == [
        "Dockerfile: the first instruction must be FROM",
        "Dockerfile: pin the base image's tag (FROM python)",
        "Dockerfile: CMD must be the JSON (exec) form",
        "Dockerfile: unknown instruction FROMM",
    ]
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "desk.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: desk}
            spec:
              selector: {matchLabels: {app: desk}}
              template:
                metadata: {labels: {app: other}}
                spec:
                  containers:
                    - name: desk
                      image: helpdesk:1
                      env: [{name: HELPDESK_SECRET_KEY, value: abc}]
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: s}
            stringData: {HELPDESK_RASA_TOKEN: abc}
            """
        )
    )
    problems = check.k8s_problems(tmp_path / "k8s")
    assert "desk.yaml: Deployment desk: selector does not match the pod labels" in problems
    assert "desk.yaml: container desk has no readinessProbe" in problems
    assert "desk.yaml: HELPDESK_SECRET_KEY is inlined; use a secretKeyRef" in problems
    assert "desk.yaml: a Secret with values in the repository; reference it, create it outside" in problems
