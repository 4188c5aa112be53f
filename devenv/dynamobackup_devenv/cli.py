"""`dbr dev up|down|status|demo`: a local control plane and moto server running in the background.

Registered as a plugin of `dbr` (entry point group `dynamobackup.cli`), so the operator package
and its image never carry the development environment.

`up` prints `export` lines on stdout (so `eval "$(dbr dev up)"` works) and everything else on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from dynamobackup.cli.errors import UsageError

STATE_DIR_ENV = "DBR_DEV_DIR"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run a local Kubernetes control plane and AWS (moto) endpoint in the background",
        description=(
            "Start, stop or inspect the local development environment: etcd, kube-apiserver and a "
            "moto server on loopback ports. State lives in .dev/ under the repo root "
            f"(or ${STATE_DIR_ENV})."
        ),
    )
    actions = parser.add_subparsers(dest="dev_command", required=True, parser_class=type(parser))
    up = actions.add_parser("up", help="start the environment (reuses a healthy one)")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for readiness")
    up.set_defaults(handler=run_up)
    down = actions.add_parser("down", help="stop the environment and remove its temporary files")
    down.set_defaults(handler=run_down)
    demo = actions.add_parser(
        "demo",
        help="start the environment and the operator, apply examples/, print the verdicts",
    )
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for readiness")
    demo.set_defaults(handler=run_demo)
    status = actions.add_parser("status", help="show whether the environment runs and is healthy")
    status.set_defaults(handler=run_status)


def state_dir() -> Path:
    """$DBR_DEV_DIR, else .dev/ in the enclosing checkout of this project, else .dev/ here."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / "pyproject.toml").is_file() and (
            directory / "operator" / "dynamobackup"
        ).is_dir():
            return directory / ".dev"
    return cwd / ".dev"


def run_up(args: argparse.Namespace) -> int:
    background = _background()
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    directory = state_dir()
    try:
        info = background.start_environment(directory, timeout=args.timeout)
    except (background.DevEnvironmentError, background.BuildError) as error:
        print(f"dbr dev up: {error}", file=sys.stderr)
        return 1
    if info.reused:
        print(f"dbr dev: reusing the running environment in {directory}", file=sys.stderr)
    else:
        print(
            f"dbr dev: control plane healthy in {info.controlplane_seconds:.1f}s, "
            f"moto in {info.moto_seconds:.1f}s",
            file=sys.stderr,
        )
    print(
        f"dbr dev: kube-apiserver {info.kube_server}, moto {info.aws_endpoint_url}", file=sys.stderr
    )
    print(f"dbr dev: load the variables with: . {directory / 'env'}", file=sys.stderr)
    sys.stdout.write(background.env_file_text(info.env))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from dynamobackup_devenv import background, demo

    try:
        return demo.run(state_dir(), timeout=args.timeout)
    except (background.DevEnvironmentError, background.BuildError, TimeoutError) as error:
        print(f"dbr dev demo: {error}", file=sys.stderr)
        return 1


def run_down(args: argparse.Namespace) -> int:
    directory = state_dir()
    if _background().stop_environment(directory):
        print(f"dbr dev: stopped the environment in {directory}", file=sys.stderr)
    else:
        print(f"dbr dev: no environment was running in {directory}", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    directory = state_dir()
    status = _background().environment_status(directory)
    if status.info is None:
        print(f"not running (state directory {directory})")
        return 3
    info = status.info
    print(f"supervisor  pid {info.supervisor_pid}: {_word(status.running)}")
    for name, pid in info.pids.items():
        print(f"{name:<11} pid {pid}: {_word(status.processes.get(name, False))}")
    print(f"kube-apiserver {info.kube_server}: {'ready' if status.kube_ready else 'NOT ready'}")
    print(
        f"moto           {info.aws_endpoint_url}: {'ready' if status.moto_ready else 'NOT ready'}"
    )
    print(f"kubeconfig     {info.kubeconfig}")
    print(f"environment    . {directory / 'env'}")
    # Exit codes as `systemctl status`: 0 healthy, 1 recorded but unhealthy, 3 not running.
    return 0 if status.healthy else 1


def _background() -> ModuleType:
    # Imported on use: it loads the kubernetes client and boto3, which `dbr --help` should not pay for.
    from dynamobackup_devenv import background

    return background


def _word(alive: bool) -> str:
    return "running" if alive else "GONE"
