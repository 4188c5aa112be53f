"""Nothing the environment starts outlives it: not on stop, not at interpreter exit, not on a signal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client

from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.processes import (
    ManagedProcess,
    ProcessFailed,
    group_members,
    pid_alive,
    start_on_free_ports,
    wait_until,
)

GONE_TIMEOUT = 20.0

# Starts a control plane and a moto server, reports what it started, then ends as `mode` says.
CHILD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from dynamobackup_devenv.controlplane import ControlPlane
    from dynamobackup_devenv.moto_server import MotoServer
    from dynamobackup_devenv.processes import pid_alive

    mode = sys.argv[1]
    if mode == "context-manager":
        with ControlPlane() as cluster, MotoServer() as moto:
            pids, workdir = [*cluster.pids(), moto.pid], str(cluster.workdir)
        survivors = [pid for pid in pids if pid_alive(pid)]
        print(json.dumps({"pids": pids, "workdir": workdir, "survivors": survivors}), flush=True)
        sys.exit(0)
    cluster = ControlPlane().start()
    moto = MotoServer().start()
    report = {"pids": [*cluster.pids(), moto.pid], "workdir": str(cluster.workdir), "log": str(moto.log_path)}
    print(json.dumps(report), flush=True)
    if mode == "exit-without-stop":
        sys.exit(0)
    time.sleep(600)
    """
)


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_TIMEOUT
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid) or group_members(pid)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def test_stop_leaves_no_process_or_directory() -> None:
    cluster = ControlPlane().start()
    moto = MotoServer().start()
    assert cluster.workdir is not None
    pids, workdir = [*cluster.pids(), moto.pid], cluster.workdir
    assert all(pid is not None and pid_alive(pid) for pid in pids)

    moto.stop()
    cluster.stop()
    cluster.stop()  # stopping twice is harmless

    assert _wait_gone([pid for pid in pids if pid is not None]) == []
    assert not workdir.exists()


def test_two_control_planes_side_by_side(control_plane: object) -> None:
    """Started one after the other while the session's own keeps running: distinct ports, own data."""
    with ControlPlane() as first, ControlPlane() as second:
        ports = {first.secure_port, first.etcd_port, second.secure_port, second.etcd_port}
        assert len(ports) == 4
        with first.api_client() as api_first, second.api_client() as api_second:
            client.CoreV1Api(api_first).create_namespace({"metadata": {"name": "only-in-first"}})
            names = {ns.metadata.name for ns in client.CoreV1Api(api_second).list_namespace().items}
            assert "default" in names
            assert "only-in-first" not in names


def test_context_manager_exit_in_a_fresh_interpreter() -> None:
    """The session-end check: a separate Python starts and stops everything, then looks itself."""
    report = _run_child("context-manager")
    assert report["survivors"] == []
    assert _wait_gone(report["pids"]) == []
    assert not Path(report["workdir"]).exists()


@pytest.mark.parametrize(
    ("mode", "signum"),
    [
        ("exit-without-stop", None),  # atexit cleanup
        ("wait", signal.SIGTERM),  # turned into SystemExit, then atexit
        ("wait", signal.SIGINT),  # KeyboardInterrupt, then atexit
        ("wait", signal.SIGKILL),  # no cleanup possible: PR_SET_PDEATHSIG takes the children
    ],
    ids=["atexit", "sigterm", "sigint", "sigkill"],
)
def test_owner_ending_takes_children_along(mode: str, signum: int | None) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        report = json.loads(child.stdout.readline() or "{}")
        assert report, f"child failed to start: {child.stderr.read() if child.stderr else ''}"
        if signum is not None:
            child.send_signal(signum)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert _wait_gone(report["pids"]) == []
    workdir = Path(report["workdir"])
    if signum == signal.SIGKILL:
        # A killed owner cannot remove its files; only the processes are guaranteed gone.
        shutil.rmtree(workdir, ignore_errors=True)
        Path(report["log"]).unlink(missing_ok=True)
    else:
        assert not workdir.exists()
        assert not Path(report["log"]).exists()


def test_a_port_taken_since_it_was_picked_is_retried_on_new_ports(tmp_path: Path) -> None:
    """A child that finds its port taken exits with Python's "Address already in use" (Go's says
    "address ..."); the start-up is tried again on fresh ports instead of failing."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        tried: list[int] = []
        children: list[ManagedProcess] = []

        def serve_http(ports: list[int]) -> None:
            port = ports[0] if tried else squatter.getsockname()[1]
            tried.append(port)
            children.append(_http_server(port, tmp_path / f"http-{len(tried)}.log"))
            wait_until(lambda: _answers(port), 30, "http.server answering", children[-1:])

        def stop_last() -> None:
            children[-1].stop()

        try:
            start_on_free_ports(1, serve_http, stop_last, "http.server")
            assert len(tried) == 2
            assert tried[1] != squatter.getsockname()[1]
            assert [child.running() for child in children] == [False, True]
        finally:
            for child in children:
                child.stop()


def test_a_start_up_failing_otherwise_is_not_retried(tmp_path: Path) -> None:
    attempts: list[list[int]] = []

    def fail(ports: list[int]) -> None:
        attempts.append(ports)
        child = ManagedProcess(
            "broken", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log"
        )
        with child:
            wait_until(lambda: False, 30, "never", [child])

    with pytest.raises(ProcessFailed, match="broken exited with code 3"):
        start_on_free_ports(1, fail, lambda: None, "broken")
    assert len(attempts) == 1


def _http_server(port: int, log: Path) -> ManagedProcess:
    args = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    return ManagedProcess("http.server", args, log, dict(os.environ)).start()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _run_child(mode: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=dict(os.environ),
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.splitlines()[-1])
    assert isinstance(report, dict)
    return report
