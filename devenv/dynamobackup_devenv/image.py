"""Builds and runs the operator's image without a Docker engine: buildah, on a Python base image
made here from Debian packages.

Machines here reach package registries only, so `python:3.x-slim` cannot be pulled. The base is made
instead with debootstrap (Debian's minimal system plus its python3 and python3-venv) from the mirror
the machine's apt already uses, and cached per user outside the clone, keyed by its recipe:
`~/.cache/dynamobackup/images/<BASE_NAME>/rootfs.tar` (root overridable with DBR_IMAGE_CACHE). The
project's own Dockerfile is then built on it through its PYTHON_IMAGE build argument, unchanged.

An image runs without a container engine too (`ImageRun`): its root filesystem is mounted by buildah,
bound read-only in a private mount namespace with a fresh /tmp, and its entrypoint is started in it
under chroot, as the image's user, with the image's environment: what a pod with
readOnlyRootFilesystem and an emptyDir on /tmp gets.

    python -m dynamobackup_devenv.image base     # the base image (cached)
    python -m dynamobackup_devenv.image build    # the operator image on it; prints its size
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from dynamobackup_devenv.processes import Lifecycle, ManagedProcess

REPO = Path(__file__).resolve().parents[2]

# The base: one Debian release and the Python line it ships (the one the project is written for).
DEBIAN_SUITE = "bookworm"
PYTHON_LINE = "3.11"
BASE_PACKAGES = ("python3", "python3-venv")
# Bump when the recipe below changes: the cache is keyed by it.
BASE_RECIPE = 1
BASE_NAME = f"python-{PYTHON_LINE}-{DEBIAN_SUITE}-r{BASE_RECIPE}"
BASE_IMAGE = f"localhost/dynamobackup-python:{PYTHON_LINE}-{DEBIAN_SUITE}-r{BASE_RECIPE}"
# Left out of the base: package caches and lists, documentation, translations.
BASE_TRIM = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/log",
)
OPERATOR_IMAGE = "localhost/dynamo-backup-role-operator"
# What the tools need from Debian's packages; scripts/bootstrap installs them where it can.
HOST_PACKAGES = {"buildah": "buildah", "debootstrap": "debootstrap", "unshare": "util-linux"}


class ImageError(RuntimeError):
    """The image could not be built or run; the message says what to install or look at."""


def cache_root() -> Path:
    override = os.environ.get("DBR_IMAGE_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dynamobackup" / "images"


def require_tools() -> None:
    missing = [f"{tool} (Debian package {package})" for tool, package in HOST_PACKAGES.items()]
    missing = [entry for entry in missing if shutil.which(entry.split()[0]) is None]
    if missing:
        raise ImageError(
            f"missing {', '.join(missing)}: run scripts/bootstrap as root, or apt-get install them"
        )
    if os.geteuid() != 0:
        raise ImageError("building and running images here needs root (debootstrap, mounts)")


# --- the base image -------------------------------------------------------------------------------


def debian_mirror() -> str:
    """The Debian mirror the machine's apt uses (DBR_DEBIAN_MIRROR overrides it)."""
    override = os.environ.get("DBR_DEBIAN_MIRROR")
    if override:
        return override
    for mirror in _apt_mirrors():
        if "security" not in mirror:
            return mirror
    raise ImageError("no Debian mirror in /etc/apt/sources.list(.d); set DBR_DEBIAN_MIRROR")


def _apt_mirrors() -> Iterator[str]:
    sources = Path("/etc/apt/sources.list.d")
    deb822 = sorted(sources.glob("*.sources")) if sources.is_dir() else []
    for path in deb822:
        for match in re.finditer(r"^URIs:\s*(\S+)", path.read_text(), re.MULTILINE):
            yield match.group(1)
    one_line = [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]
    for path in one_line:
        if path.is_file():
            for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", path.read_text(), re.M):
                yield match.group(1)


def base_tarball() -> Path:
    """The base's root filesystem as a tar, made once per machine and recipe (a few minutes)."""
    target = cache_root() / BASE_NAME / "rootfs.tar"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / ".lock"):
        if target.is_file():
            return target
        started = time.monotonic()
        _say(
            f"making the Python base ({DEBIAN_SUITE}, {', '.join(BASE_PACKAGES)}) with debootstrap"
        )
        with tempfile.TemporaryDirectory(prefix="dbr-base-", dir=target.parent) as work:
            rootfs = Path(work) / "rootfs"
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    DEBIAN_SUITE,
                    str(rootfs),
                    debian_mirror(),
                ],
                what="debootstrap",
            )
            for relative in BASE_TRIM:
                for child in (rootfs / relative).glob("*"):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            partial = target.with_suffix(".partial")
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], "tar")
            partial.replace(target)
        _say(f"Python base made in {time.monotonic() - started:.0f}s: {target}")
    return target


def ensure_base_image() -> str:
    """The base as an image in buildah's storage (imported from the cached tar when missing)."""
    if _image_exists(BASE_IMAGE):
        return BASE_IMAGE
    tarball = base_tarball()
    containerfile = tarball.parent / "Containerfile"
    containerfile.write_text(f'FROM scratch\nADD {tarball.name} /\nCMD ["python3"]\n')
    build_base = ["buildah", "bud", "--isolation", "chroot", "-f", str(containerfile)]
    _run([*build_base, "-t", BASE_IMAGE, str(tarball.parent)], what="importing the base")
    return BASE_IMAGE


# --- the operator image ---------------------------------------------------------------------------


def build(tag: str | None = None, base: str | None = None) -> str:
    """Builds the repository's Dockerfile on `base` (the local Python base by default)."""
    require_tools()
    tag = tag or f"{OPERATOR_IMAGE}:{project_version()}"
    base = base or ensure_base_image()
    started = time.monotonic()
    args = [
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        # Cached layers: the install docs' `docker build` of the same context then reuses the
        # builder stage instead of installing every dependency again.
        "--layers",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        f"VERSION={project_version()}",
        "--build-arg",
        f"REVISION={_git_revision()}",
        *build_volumes(),
        "-t",
        tag,
        str(REPO),
    ]
    _run(args, what="buildah bud")
    _say(f"built {tag} in {time.monotonic() - started:.0f}s ({image_size(tag) / 2**20:.0f} MiB)")
    return tag


def build_volumes() -> list[str]:
    """The machine's pip configuration and CA certificates, for the build's RUN steps only.

    Where pip reaches PyPI through a TLS-intercepting proxy (as here), it needs the machine's CA
    bundle and pip.conf; docker users do the same with secrets. Nothing of it lands in a layer.
    """
    volumes = []
    for path in (Path("/etc/pip.conf"), Path("/etc/ssl/certs")):
        if path.exists():
            volumes += ["--volume", f"{path}:{path}:ro"]
    return volumes


def project_version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return str(project["version"])


def _git_revision() -> str:
    completed = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or "unknown"


def image_size(image: str) -> int:
    """Bytes of the image's root filesystem, as unpacked on a node."""
    with mounted(image) as rootfs:
        return _tree_size(rootfs)


def directory_size(image: str, path: str) -> int:
    with mounted(image) as rootfs:
        return _tree_size(rootfs / path.lstrip("/"))


def _tree_size(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def image_config(image: str) -> dict[str, Any]:
    """The OCI config of an image: User, Env, Entrypoint, Cmd, ExposedPorts, Labels."""
    completed = _run(["buildah", "inspect", "--type", "image", image], what="buildah inspect")
    config: dict[str, Any] = json.loads(completed.stdout)["OCIv1"]["config"]
    return config


@contextlib.contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The image's root filesystem, in a working container removed afterwards."""
    container = _run(["buildah", "from", "--pull-never", image], what="buildah from").stdout
    container = container.strip().splitlines()[-1]
    try:
        path = _run(["buildah", "mount", container], what="buildah mount").stdout.strip()
        yield Path(path)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def _image_exists(image: str) -> bool:
    completed = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True, check=False
    )
    return completed.returncode == 0


# --- running an image -----------------------------------------------------------------------------

# Runs as root in a private mount namespace: the image's root is bound onto itself and made
# read-only; /tmp is a fresh tmpfs (the chart's emptyDir), /dev and /proc the host's; files handed
# in land in /tmp; then chroot drops to the image's user and execs the command.
_SANDBOX = r"""
set -eu
root=$1; user=$2; inputs=$3; shift 3
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
if [ -n "$inputs" ]; then cp -r "$inputs"/. "$root/tmp/" && chmod -R a+rX "$root/tmp"; fi
mount -o remount,bind,ro "$root"
exec chroot --userspec="$user" "$root" "$@"
"""


@dataclass(frozen=True)
class RunSpec:
    """What `docker run` would be told: arguments after the entrypoint, environment, files in /tmp."""

    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    files: Mapping[str, bytes] | None = None
    entrypoint: Sequence[str] | None = None


class ImageRun(Lifecycle):
    """One process of an image, read-only root and the image's user (see _SANDBOX)."""

    def __init__(self, image: str, spec: RunSpec, log_path: Path) -> None:
        self.image = image
        self.spec = spec
        self.log_path = log_path
        self._stack = contextlib.ExitStack()
        self.process: ManagedProcess | None = None

    def start(self) -> Self:
        config = image_config(self.image)
        rootfs = self._stack.enter_context(mounted(self.image))
        inputs = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="dbr-in-")))
        for name, content in (self.spec.files or {}).items():
            (inputs / name).write_bytes(content)
        entrypoint = list(self.spec.entrypoint or config.get("Entrypoint") or [])
        command = [*entrypoint, *self.spec.args]
        env = dict(entry.split("=", 1) for entry in config.get("Env") or [])
        env.update(self.spec.env or {})
        user = config.get("User") or "0:0"
        argv = [
            "unshare",
            "--mount",
            "--fork",
            "sh",
            "-c",
            _SANDBOX,
            "sandbox",
            str(rootfs),
            user,
            str(inputs),
            "env",
            "-i",
            *(f"{key}={value}" for key, value in env.items()),
            *command,
        ]
        self.process = ManagedProcess("image", argv, self.log_path, dict(os.environ), True)
        self.process.start()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self._stack.close()


def run_once(image: str, spec: RunSpec, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs a command of the image to its end; its output and exit code."""
    with tempfile.TemporaryDirectory(prefix="dbr-run-") as work:
        log = Path(work) / "out.log"
        run = ImageRun(image, spec, log).start()
        assert run.process is not None
        try:
            deadline = time.monotonic() + timeout
            while run.process.running():
                if time.monotonic() > deadline:
                    raise ImageError(f"{spec.args} did not finish in {timeout:.0f}s: {run.log()}")
                time.sleep(0.1)
            code = run.process.returncode
            return subprocess.CompletedProcess(list(spec.args), code or 0, run.log(), "")
        finally:
            run.stop()


# --- plumbing -------------------------------------------------------------------------------------


def _run(args: Sequence[str], what: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-30:])
        raise ImageError(f"{what} failed (exit {completed.returncode}):\n{tail}")
    return completed


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(message: str) -> None:
    print(f"image: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamobackup_devenv.image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("base", help="make (or find) the Python base image")
    build_parser = commands.add_parser("build", help="build the operator image on the base")
    build_parser.add_argument("--tag", help=f"default: {OPERATOR_IMAGE}:<project version>")
    args = parser.parse_args(argv)
    try:
        require_tools()
        if args.command == "base":
            print(ensure_base_image())
        else:
            print(build(args.tag))
    except ImageError as error:
        print(f"image: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
