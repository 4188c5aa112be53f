"""Child processes of the development environment that never outlive their owner.

One place for their lifecycle: `ManagedProcess` starts a child with its output in a log file and stops
it (SIGTERM to its process group, SIGKILL after a grace period); `wait_until` waits for a readiness
check and fails early, with the child's log tail, if the child exits; `start_on_free_ports` retries a
start-up whose ports were taken meanwhile; `Lifecycle` gives everything with a start and a stop its
`with` form, and `Service` makes a start all-or-nothing with a stop that also runs at interpreter exit.

Each child runs in its own session (so a Ctrl-C in the terminal reaches only the Python owner, which
then stops the children in order) and, where the owner stays alive, with PR_SET_PDEATHSIG so the kernel
kills it if the owner dies without cleaning up. Cleanups registered here run at interpreter exit, and a
SIGTERM is turned into SystemExit so that `finally` blocks, fixture teardown and atexit all still run.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import itertools
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Self

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
START_ATTEMPTS = 3
# How etcd, kube-apiserver (Go) and moto (Python: "Address ...") report a port taken by someone else.
_PORT_CLASH = "address already in use"
_PR_SET_PDEATHSIG = 1

_cleanups: dict[int, Callable[[], None]] = {}
_cleanup_ids = itertools.count()
_cleanup_lock = threading.Lock()
_atexit_installed = False


class ProcessFailed(RuntimeError):
    """A child exited (or never became healthy); the message carries the end of its log."""


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out on 127.0.0.1, all distinct.

    The sockets are held open until every port is chosen so one call never returns a port twice; a
    different process may still take one before the child binds it, which the starters handle by
    retrying on fresh ports.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def register_cleanup(action: Callable[[], None]) -> int:
    """Runs `action` at interpreter exit unless unregistered first; returns the token for that."""
    _install_exit_hooks()
    with _cleanup_lock:
        token = next(_cleanup_ids)
        _cleanups[token] = action
    return token


def unregister_cleanup(token: int) -> None:
    with _cleanup_lock:
        _cleanups.pop(token, None)


def run_cleanups() -> None:
    """Runs every pending cleanup, newest first (a control plane stops before what it depends on)."""
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            token = max(_cleanups)
            action = _cleanups.pop(token)
        # One failing cleanup must not keep the others from running.
        with contextlib.suppress(Exception):
            action()


def _install_exit_hooks() -> None:
    global _atexit_installed  # noqa: PLW0603 - one process-wide hook, installed on first use
    if _atexit_installed:
        return
    atexit.register(run_cleanups)
    _atexit_installed = True
    # Python dies on SIGTERM without running atexit; raising SystemExit instead unwinds the stack
    # normally. Only when nobody else has claimed the signal, and only the main thread may set it.
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _pdeathsig_preexec() -> Callable[[], None] | None:
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    # Resolved here, in the parent: the child between fork and exec should do as little as possible.

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return set_pdeathsig


class Lifecycle(ABC):
    """Something started and stopped; `with` starts it and stops it however the block ends."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Service(Lifecycle):
    """A Lifecycle that is all up or all down, and never outlives the interpreter.

    A failed start stops whatever it had started before raising; `stop()` runs at interpreter exit if
    the owner never calls it, and is safe to call twice. Subclasses say what starting and stopping
    mean in `_start_up` and `_shut_down`; `startup_seconds` records how long `_start_up` took.
    `start_timeout` bounds each child's wait for readiness; `die_with_parent` is ManagedProcess's.
    """

    def __init__(self, start_timeout: float, die_with_parent: bool) -> None:
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self.startup_seconds: float | None = None
        self._cleanup_token: int | None = None

    def start(self) -> Self:
        started = time.monotonic()
        self._cleanup_token = register_cleanup(self.stop)
        try:
            self._start_up()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        self._shut_down()
        if self._cleanup_token is not None:
            unregister_cleanup(self._cleanup_token)
            self._cleanup_token = None

    @abstractmethod
    def _start_up(self) -> None: ...

    @abstractmethod
    def _shut_down(self) -> None: ...


def start_on_free_ports(
    count: int,
    attempt: Callable[[list[int]], None],
    undo: Callable[[], None],
    what: str,
    attempts: int = START_ATTEMPTS,
) -> None:
    """Runs `attempt` (which starts children on the `count` free ports it is given) until it succeeds.

    The ports are only free when picked: if another process binds one first, the child exits at once
    with "address already in use"; `undo` then stops what the attempt started and the next attempt
    gets new ports. Any other failure, and the last attempt's, is raised.
    """
    for attempt_number in range(1, attempts + 1):
        try:
            attempt(free_ports(count))
            return
        except ProcessFailed as failure:
            if attempt_number == attempts or _PORT_CLASH not in str(failure).lower():
                raise
            log.warning("port clash while starting %s, retrying: %s", what, failure)
            undo()


class ManagedProcess(Lifecycle):
    """One child process with its output in a log file, stopped by signalling its process group."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.die_with_parent = die_with_parent
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so callers starting from a
        # short-lived thread must pass die_with_parent=False.
        preexec = _pdeathsig_preexec() if self.die_with_parent else None
        self._popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - only a prctl call, resolved before the fork
        )
        return self

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once the child has ended, else None."""
        return self._popen.poll() if self._popen is not None else None

    def check_running(self) -> None:
        if self._popen is not None and self._popen.poll() is not None:
            raise ProcessFailed(
                f"{self.name} exited with code {self._popen.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to the whole process group, SIGKILL after `grace` seconds; always reaps the child."""
        popen = self._popen
        if popen is not None:
            stop_process_group(popen.pid, grace, popen.wait)
        if self._log is not None:
            self._log.close()
            self._log = None


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a child's log, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def stop_process_group(
    pgid: int, grace: float, wait: Callable[[float], object] | None = None
) -> None:
    """Stops the process group `pgid` (a session leader's pid): SIGTERM, then SIGKILL after `grace`.

    `wait` reaps the leader when it is our own child; for a group started by another process (the
    detached `dbr dev` supervisor) the leader is polled until it is gone.
    """
    if not _signal_group(pgid, signal.SIGTERM):
        if wait is not None:
            wait(grace)
        return
    if _wait_gone(pgid, grace, wait):
        return
    _signal_group(pgid, signal.SIGKILL)
    _wait_gone(pgid, grace, wait)


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pgid: int, timeout: float, wait: Callable[[float], object] | None) -> bool:
    if wait is not None:
        try:
            wait(timeout)
        except subprocess.TimeoutExpired:
            return False
    # With the leader reaped (or not ours to reap), wait for every member of the group to be gone.
    return _poll(lambda: not _group_alive(pgid), timeout)


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # After the ")" closing the command name: state, ppid, pgrp, ...
        if fields and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its entry remains)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def _stat_fields(pid: int) -> list[str]:
    try:
        # The command name may contain spaces and parentheses; everything after the last ")" is fixed.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _poll(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Sequence[ManagedProcess] = (),
    interval: float = 0.1,
) -> None:
    """Polls `condition` until true; fails early with the child's log if one of `processes` exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            process.check_running()
        if time.monotonic() >= deadline:
            tails = "\n".join(f"--- {p.name} log:\n{p.log_tail()}" for p in processes)
            raise ProcessFailed(f"{what} did not happen within {timeout:.0f}s\n{tails}")
        time.sleep(interval)
