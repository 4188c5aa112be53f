"""Run `dbr run` as a child process against a cluster and an AWS endpoint, for e2e tests and the demo."""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from dynamobackup_devenv.processes import (
    STOP_GRACE_SECONDS,
    Lifecycle,
    ManagedProcess,
    free_ports,
    wait_until,
)

STARTUP_TIMEOUT = 60.0


class OperatorProcess(Lifecycle):
    """The operator, started with `python -m dynamobackup.cli.main run` and stopped by signal."""

    def __init__(
        self,
        kubeconfig: Path,
        aws_environment: Mapping[str, str],
        *,
        drift_tick: float = 1.0,
        retry_delay: float = 2.0,
        namespaces: tuple[str, ...] = (),
        log_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
        die_with_parent: bool = True,
        launcher: tuple[str, ...] = (),
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        """`launcher`: interpreter arguments before the operator's module, e.g. a profiler's
        `-m memray run -o PATH` (it runs the operator in the same process, so the pid is the same);
        `stop_grace`: seconds between SIGTERM and SIGKILL (a profiler writes its file on exit)."""
        self.stop_grace = stop_grace
        self.health_port, self.metrics_port = free_ports(2)
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="dbr-operator-", suffix=".log")[1])
        args = [
            sys.executable,
            *launcher,
            "-m",
            "dynamobackup.cli.main",
            "run",
            "--aws-endpoint-url",
            aws_environment["AWS_ENDPOINT_URL"],
            "--drift-tick",
            str(drift_tick),
            "--retry-delay",
            str(retry_delay),
            "--health-port",
            str(self.health_port),
            "--metrics-port",
            str(self.metrics_port),
            *(arg for namespace in namespaces for arg in ("--namespace", namespace)),
            *extra_args,
        ]
        env = {**os.environ, **aws_environment, "KUBECONFIG": str(kubeconfig)}
        self.process = ManagedProcess("operator", args, self.log_path, env, die_with_parent)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def start(self) -> Self:
        self.process.start()
        wait_until(self.healthy, STARTUP_TIMEOUT, "the operator's /healthz", [self.process])
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.stop(self.stop_grace)
