"""The development environment in the background: what `dbr dev up/down/status` drive.

`start_environment` launches a detached supervisor (`python -m dynamobackup_devenv.background serve`)
in its own session. The supervisor owns the control plane and the moto server like a test session
does, records everything in the state directory and, on SIGTERM, stops them and removes what it made.
Children run with PR_SET_PDEATHSIG, so even a SIGKILLed supervisor takes them with it.

State directory (`.dev/` under the repo root, or $DBR_DEV_DIR):
    state.json   pids, ports, temp dirs, URLs, start-up times (written when everything is healthy)
    env          `export ...` lines for KUBECONFIG and the AWS variables
    kubeconfig   admin kubeconfig of the local control plane
    operator.pid the operator `dbr dev demo` started, if any (stopped by `down` too)
    logs/        supervisor, etcd, kube-apiserver, moto and operator logs (kept after `down`)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from dynamobackup_devenv import binaries
from dynamobackup_devenv.binaries import BuildError
from dynamobackup_devenv.certs import cert_paths
from dynamobackup_devenv.controlplane import ControlPlane, apiserver_ready
from dynamobackup_devenv.moto_server import MotoServer, moto_healthy
from dynamobackup_devenv.processes import log_tail, pid_alive, stop_process_group

__all__ = [
    "BuildError",
    "DevEnvironmentError",
    "EnvInfo",
    "EnvStatus",
    "env_file_text",
    "environment_status",
    "serve",
    "start_environment",
    "stop_environment",
]

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
ENV_FILE = "env"
KUBECONFIG_FILE = "kubeconfig"
OPERATOR_PID_FILE = "operator.pid"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
MONITOR_INTERVAL = 2.0
SUPERVISOR_LOG_LINES = 40


class DevEnvironmentError(RuntimeError):
    """The background environment could not be started; the message carries the supervisor log."""


@dataclass
class EnvInfo:
    """What a running environment offers, as recorded in state.json."""

    state_dir: str
    kubeconfig: str
    kube_server: str
    aws_endpoint_url: str
    env: dict[str, str]
    supervisor_pid: int
    pids: dict[str, int]
    controlplane_workdir: str
    controlplane_seconds: float
    moto_seconds: float
    status: str = "ready"
    reused: bool = field(default=False, compare=False)

    @classmethod
    def load(cls, state_dir: Path) -> EnvInfo | None:
        try:
            data = json.loads((state_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
        if data.get("status") != "ready":
            return None
        data.pop("reused", None)
        return cls(**data)


@dataclass(frozen=True)
class EnvStatus:
    running: bool
    info: EnvInfo | None
    processes: dict[str, bool]
    kube_ready: bool
    moto_ready: bool

    @property
    def healthy(self) -> bool:
        return self.running and all(self.processes.values()) and self.kube_ready and self.moto_ready


# --- used by `dbr dev` ---------------------------------------------------------------------------


def start_environment(state_dir: Path, timeout: float = START_TIMEOUT) -> EnvInfo:
    """Starts the background environment, or returns the running one if it is healthy."""
    current = environment_status(state_dir)
    if current.healthy and current.info is not None:
        current.info.reused = True
        return current.info
    if current.running or (state_dir / STATE_FILE).exists():
        log.info("replacing an unhealthy or stale environment in %s", state_dir)
        stop_environment(state_dir)
    # Built here, in the foreground, so that a first run shows the build's progress to the user.
    binaries.ensure(("etcd", "kube-apiserver"))
    supervisor = _spawn_supervisor(state_dir)
    return _wait_for_supervisor(state_dir, supervisor, timeout)


def stop_environment(state_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stops the environment recorded in `state_dir`; returns whether anything was running."""
    was_running = stop_operator(state_dir, timeout)
    state = _read_state(state_dir)
    if not state:
        return was_running
    supervisor_pid = state.get("supervisor_pid")
    if isinstance(supervisor_pid, int) and pid_alive(supervisor_pid):
        was_running = True
        # The supervisor leads its own session: this reaches it and nothing else.
        stop_process_group(supervisor_pid, timeout)
    # Whatever a crashed supervisor left behind: each child leads its own process group too.
    for pid in (state.get("pids") or {}).values():
        if isinstance(pid, int) and pid_alive(pid):
            was_running = True
            stop_process_group(pid, timeout)
    workdir = state.get("controlplane_workdir")
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    _remove_state_files(state_dir)
    return was_running


def stop_operator(state_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stops the operator recorded in operator.pid (it leads its own session); True if it ran."""
    pid_file = state_dir / OPERATOR_PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    running = pid_alive(pid)
    if running:
        stop_process_group(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return running


def environment_status(state_dir: Path) -> EnvStatus:
    info = EnvInfo.load(state_dir)
    if info is None:
        return EnvStatus(False, None, {}, False, False)
    processes = {name: pid_alive(pid) for name, pid in info.pids.items()}
    running = pid_alive(info.supervisor_pid)
    kube_ready = running and apiserver_ready(
        info.kube_server, cert_paths(Path(info.controlplane_workdir) / "pki")
    )
    moto_ready = running and moto_healthy(info.aws_endpoint_url)
    return EnvStatus(running, info, processes, kube_ready, moto_ready)


def env_file_text(env: dict[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


def _spawn_supervisor(state_dir: Path) -> subprocess.Popen[bytes]:
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "supervisor.log"
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "dynamobackup_devenv.background", "serve", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own session: it outlives this command and the terminal's Ctrl-C.
            start_new_session=True,
        )


def _wait_for_supervisor(
    state_dir: Path, supervisor: subprocess.Popen[bytes], timeout: float
) -> EnvInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = EnvInfo.load(state_dir)
        if info is not None and info.supervisor_pid == supervisor.pid:
            return info
        if supervisor.poll() is not None:
            raise DevEnvironmentError(
                f"the environment failed to start (exit code {supervisor.returncode}):\n"
                + log_tail(state_dir / "logs" / "supervisor.log", SUPERVISOR_LOG_LINES)
            )
        time.sleep(0.2)
    stop_environment(state_dir)
    raise DevEnvironmentError(
        f"the environment was not ready after {timeout:.0f}s:\n"
        + log_tail(state_dir / "logs" / "supervisor.log", SUPERVISOR_LOG_LINES)
    )


def _read_state(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remove_state_files(state_dir: Path) -> None:
    for name in (STATE_FILE, ENV_FILE, KUBECONFIG_FILE):
        (state_dir / name).unlink(missing_ok=True)


# --- the supervisor --------------------------------------------------------------------------------


def serve(state_dir: Path) -> int:
    """Runs the environment until SIGTERM/SIGINT or until one of its processes dies."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    state_dir.mkdir(parents=True, exist_ok=True)
    logs = state_dir / "logs"
    control_plane = ControlPlane(log_dir=logs)
    moto = MotoServer(log_path=logs / "moto.log")
    try:
        control_plane.start()
        moto.start()
        info = _record_state(state_dir, control_plane, moto)
        log.info("environment ready: %s", json.dumps(asdict(info)))
        _monitor(control_plane, moto, stop_requested)
    finally:
        moto.stop()
        control_plane.stop()
        _remove_state_files(state_dir)
        log.info("environment stopped")
    return 0


def _record_state(state_dir: Path, control_plane: ControlPlane, moto: MotoServer) -> EnvInfo:
    kubeconfig = state_dir / KUBECONFIG_FILE
    shutil.copyfile(control_plane.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o600)
    env = {"KUBECONFIG": str(kubeconfig), **moto.environment()}
    assert control_plane.etcd is not None and control_plane.apiserver is not None
    assert control_plane.workdir is not None
    info = EnvInfo(
        state_dir=str(state_dir),
        kubeconfig=str(kubeconfig),
        kube_server=control_plane.server,
        aws_endpoint_url=moto.url,
        env=env,
        supervisor_pid=os.getpid(),
        pids={
            "etcd": _pid(control_plane.etcd.pid),
            "kube-apiserver": _pid(control_plane.apiserver.pid),
            "moto": _pid(moto.pid),
        },
        controlplane_workdir=str(control_plane.workdir),
        controlplane_seconds=round(control_plane.startup_seconds or 0.0, 2),
        moto_seconds=round(moto.startup_seconds or 0.0, 2),
    )
    (state_dir / ENV_FILE).write_text(env_file_text(env))
    # Written last and atomically: its presence with status "ready" is what `up` waits for.
    partial = state_dir / f".{STATE_FILE}.partial"
    partial.write_text(json.dumps(asdict(info), indent=2) + "\n")
    partial.replace(state_dir / STATE_FILE)
    return info


def _pid(pid: int | None) -> int:
    if pid is None:
        raise RuntimeError("a child process has no pid after start")
    return pid


def _monitor(
    control_plane: ControlPlane, moto: MotoServer, stop_requested: threading.Event
) -> None:
    processes = [control_plane.etcd, control_plane.apiserver, moto.process]
    while not stop_requested.wait(MONITOR_INTERVAL):
        for process in processes:
            if process is not None and not process.running():
                log.error(
                    "%s exited; stopping the environment:\n%s", process.name, process.log_tail()
                )
                return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynamobackup_devenv.background")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the environment in the foreground")
    serve_parser.add_argument("state_dir", type=Path)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return serve(args.state_dir.resolve())
    return 130


if __name__ == "__main__":
    sys.exit(main())
