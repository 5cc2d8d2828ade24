"""The scale-out set-up on one machine, for the multi-replica test and `make bench --replicas`: several Rasa
servers, action servers and desks as processes, built from `helpdesk run`'s own children.

Production runs replicas as containers (deploy/, docs/deployment.md); this is the same topology on
loopback ports: every desk lists every Rasa (HELPDESK_RASA_URLS), Rasa replica i calls action server
i mod n (its own endpoints file), all of them on one PostgreSQL database and one Redis.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, inspect

from desk.ops import supervisor
from desk.settings import Settings


def replica_child(child: supervisor.Child, name: str, flag: str, port: int) -> supervisor.Child:
    """Another process like `child` on another port (its `flag` argument and HELPDESK_PORT changed)."""
    argv = list(child.argv)
    argv[argv.index(flag) + 1] = str(port)
    env = dict(child.env)
    if "HELPDESK_PORT" in env:
        env["HELPDESK_PORT"] = str(port)
    return supervisor.Child(name, argv, env, child.log.with_name(f"{name}.log"))


def _with_endpoints(rasa: supervisor.Child, endpoints: Path, action_url: str, base_action_url: str) -> None:
    """Point a Rasa replica at its own endpoints file, naming its action server."""
    text = endpoints.read_text(encoding="utf-8").replace(base_action_url.rstrip("/"), action_url.rstrip("/"))
    own = endpoints.with_name(f"endpoints-{rasa.name}.yml")
    own.write_text(text, encoding="utf-8")
    rasa.argv[rasa.argv.index("--endpoints") + 1] = str(own)


def build_replicas(
    settings: Settings, model: Path, rasa_ports: list[int], action_ports: list[int], desk_ports: list[int]
) -> list[supervisor.Child]:
    """rasa-1.., actions-1.., desk-1.. (settings: those of desk-1, with every Rasa in rasa.urls)."""
    rasa, actions, desk = supervisor.build_children(settings, model)
    endpoints = settings.var_dir / "endpoints.yml"
    rasas = [replica_child(rasa, f"rasa-{i + 1}", "-p", port) for i, port in enumerate(rasa_ports)]
    action_urls = [f"http://127.0.0.1:{port}" for port in action_ports]
    for i, child in enumerate(rasas):
        _with_endpoints(child, endpoints, action_urls[i % len(action_urls)], settings.action_server.url)
    servers = [replica_child(actions, f"actions-{i + 1}", "-p", port) for i, port in enumerate(action_ports)]
    desks = [replica_child(desk, f"desk-{i + 1}", "--port", port) for i, port in enumerate(desk_ports)]
    return [*rasas, *servers, *desks]


def wait_for_tracker_tables(url: str, rasa: supervisor.Child, timeout: float = 240) -> None:
    """Wait until the first Rasa created the tracker store's tables (two creating them at once collide)."""
    engine = create_engine(supervisor.rasa_tracker_url(url))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if rasa.proc is not None and rasa.proc.poll() is not None:
                raise RuntimeError(f"{rasa.name} exited: {rasa.log.read_text(errors='replace')[-2000:]}")
            if "events" in inspect(engine).get_table_names():
                return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise RuntimeError(f"{rasa.name} did not create its tracker store within {timeout:.0f} s")


def start_replicas(children: list[supervisor.Child], tracker_url: str) -> None:
    """Start the first Rasa, wait for its tracker tables, then the others."""
    first = children[0]
    supervisor.start(first)
    wait_for_tracker_tables(tracker_url, first)
    for child in children[1:]:
        supervisor.start(child)


def stop_replicas(children: list[supervisor.Child], timeout: float = 20.0) -> None:
    """The desks first (they drain), then Rasa and the action servers."""
    supervisor.terminate([c for c in children if c.name.startswith(supervisor.FRONT)], timeout)
    supervisor.terminate([c for c in children if not c.name.startswith(supervisor.FRONT)], timeout)
