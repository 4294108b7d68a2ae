"""Builds the sandbox's Go programs from their modules, once, into a cache keyed by each module's go.sum."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("VIRT_EXPOSE_SANDBOX_CACHE", REPO / ".cache" / "sandbox"))

KUBERNETES_VERSION = "v1.37.2"
_VERSION_LDFLAGS = " ".join(
    f"-X k8s.io/component-base/version.{key}={value}"
    for key, value in {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": "1",
        "gitMinor": "37",
        "gitTreeState": "clean",
        "gitCommit": "0000000000000000000000000000000000000000",
        "buildDate": "2026-01-01T00:00:00Z",
    }.items()
)


@dataclass(frozen=True)
class GoModule:
    """A Go module of ours under tests/sandbox and the programs it builds (binary name -> package)."""

    directory: Path
    programs: dict[str, str]
    ldflags: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        digest = hashlib.sha256((self.directory / "go.sum").read_bytes())
        digest.update(self.ldflags.encode())
        for path in sorted(self.directory.rglob("*.go")):
            digest.update(path.read_bytes())
        return f"{self.directory.name}-{digest.hexdigest()[:16]}"


MODULES = {
    "controlplane": GoModule(HERE / "controlplane", {"kube-sandbox": "."}, ldflags=_VERSION_LDFLAGS),
    # One module per KubeVirt version; its programs are named `<program>-<version>` (kubevirt.py).
    # The ldflags are those of KubeVirt's hack/version.sh for the release (commit of its tag).
    "kubevirt-1.7": GoModule(
        HERE / "kubevirt" / "v1.7",
        {
            "virt-controller-1.7": "kubevirt.io/kubevirt/cmd/virt-controller",
            "virt-api-1.7": "kubevirt.io/kubevirt/cmd/virt-api",
            "virtctl-1.7": "kubevirt.io/kubevirt/cmd/virtctl",
            "kubevirt-manifests-1.7": "./cmd/manifests",
        },
        ldflags="-X kubevirt.io/client-go/version.gitVersion=v1.7.0"
        " -X kubevirt.io/client-go/version.gitCommit=50b9b4d0cf1caaf56147411a1e6765134e0e82b9"
        " -X kubevirt.io/client-go/version.gitTreeState=clean"
        " -X kubevirt.io/client-go/version.buildDate=2025-11-22T23:34:02Z",
    ),
    # For sandboxes started with --kubevirt-version 1.6 only: `binary()` builds it on first use; `--for test`
    # builds it too, since the suite starts one (tests/e2e/sandbox/test_kubevirt_versions.py).
    "kubevirt-1.6": GoModule(
        HERE / "kubevirt" / "v1.6",
        {
            "virt-controller-1.6": "kubevirt.io/kubevirt/cmd/virt-controller",
            "virt-api-1.6": "kubevirt.io/kubevirt/cmd/virt-api",
            "kubevirt-manifests-1.6": "./cmd/manifests",
        },
        ldflags="-X kubevirt.io/client-go/version.gitVersion=v1.6.0"
        " -X kubevirt.io/client-go/version.gitCommit=d53baa7f84687d156bd8a3a80d7ea2fbd8e0a993"
        " -X kubevirt.io/client-go/version.gitTreeState=clean"
        " -X kubevirt.io/client-go/version.buildDate=2025-07-24T19:23:44Z",
    ),
    "kwok": GoModule(HERE / "tools" / "kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}),
    # Test-only: the packaging tests validate plugin-manifest.yaml and install dist/ with the real krew.
    "krew": GoModule(
        HERE / "tools" / "krew",
        {"krew": "sigs.k8s.io/krew/cmd/krew", "validate-krew-manifest": "sigs.k8s.io/krew/cmd/validate-krew-manifest"},
    ),
}


# What each make target needs (`python -m tests.sandbox.build --for TARGET`): `demo` the programs of one
# default sandbox (`make demo`, `make sandbox`); `test` every program, since the suite also starts a
# KubeVirt 1.6 sandbox and runs virtctl and krew (`make test`, `make bench`).
DEMO = ("kube-sandbox", "virt-controller-1.7", "virt-api-1.7", "kubevirt-manifests-1.7", "kwok")
TARGETS = {"demo": DEMO, "test": tuple(program for module in MODULES.values() for program in module.programs)}
# Seconds each program's first build took with an empty Go cache on this project's 2-core machine, shared
# with other work (`make sandbox-build`, 2026-11-27; the first one fetches most of the modules): shown
# beside each step so that a newcomer knows what to expect.
FIRST_BUILD_SECONDS = {
    "kube-sandbox": 697, "virt-controller-1.7": 251, "virt-api-1.7": 34, "virtctl-1.7": 24,
    "kubevirt-manifests-1.7": 3, "virt-controller-1.6": 155, "virt-api-1.6": 15, "kubevirt-manifests-1.6": 3,
    "kwok": 105, "krew": 12, "validate-krew-manifest": 1,
}


def _module_of(program: str) -> GoModule:
    for module in MODULES.values():
        if program in module.programs:
            return module
    raise KeyError(f"no Go module builds {program!r}")


def _cached(program: str) -> Path:
    module = _module_of(program)
    return CACHE / module.key / program


def binary(program: str, step: str = "sandbox:") -> Path:
    """The path of a built program, building it first if the cache lacks it (`step` starts the progress
    lines: `[2/5]` from `build`, `sandbox:` when a test or the sandbox asks for it)."""
    built = _cached(program)
    if built.exists():
        return built
    built.parent.mkdir(parents=True, exist_ok=True)
    with open(built.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building the same module
        if not built.exists():
            _build(_module_of(program), program, built, step)
    return built


def elapsed(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _build(module: GoModule, program: str, built: Path, step: str) -> None:
    """`go build` of one program; Go's own output (module downloads) goes to a log beside it, shown on
    failure."""
    started = time.monotonic()
    expected = FIRST_BUILD_SECONDS.get(program, 60)
    hint = f"~{round(expected / 60)} min" if expected >= 90 else "under a minute" if expected > 15 else "seconds"
    print(f"{step} building {program} (first run only, {hint})", file=sys.stderr, flush=True)
    partial = built.parent / f".{program}.partial"
    log = built.parent / f"{program}.log"
    command = ["go", "build", "-o", str(partial), *(["-ldflags", module.ldflags] if module.ldflags else []),
               module.programs[program]]
    with open(log, "w") as output:
        done = subprocess.run(command, cwd=module.directory, env={**os.environ, "CGO_ENABLED": "0", **module.env},
                              stdout=output, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.stderr.write(log.read_text()[-4000:])
        raise RuntimeError(f"{step} building {program} failed (exit {done.returncode}); Go's output: {log}")
    partial.rename(built)
    print(f"{step} built {program} in {elapsed(time.monotonic() - started)}", file=sys.stderr, flush=True)


# Not built: a file taken from a Go module as published (fetched like the modules above, verified by go.sum).
OPENSHIFT_API = HERE / "tools" / "openshift-api"
ROUTE_CRD_PATH = "route/v1/zz_generated.crd-manifests/routes.crd.yaml"


def _route_crd_cached() -> Path:
    digest = hashlib.sha256((OPENSHIFT_API / "go.sum").read_bytes()).hexdigest()[:16]
    return CACHE / f"openshift-api-{digest}" / "routes.crd.yaml"


def route_crd(step: str = "sandbox:") -> Path:
    """The Route CRD (route.openshift.io/v1) of the github.com/openshift/api version that tools/openshift-api
    pins, as MicroShift installs it; downloaded once into the cache."""
    target = _route_crd_cached()
    if not target.exists():
        print(f"{step} fetching the Route CRD (github.com/openshift/api, first run only)", file=sys.stderr,
              flush=True)
        download = subprocess.run(["go", "mod", "download", "-json", "github.com/openshift/api"], cwd=OPENSHIFT_API,
                                  check=True, capture_output=True, text=True)
        source = Path(json.loads(download.stdout)["Dir"]) / ROUTE_CRD_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(source.read_bytes())
        partial.rename(target)
    return target


def build(target: str) -> None:
    """Build what `target` needs, numbering the steps still to do (a warm cache prints nothing)."""
    missing = [program for program in TARGETS[target] if not _cached(program).exists()]
    route_missing = not _route_crd_cached().exists()
    steps = len(missing) + route_missing
    started = time.monotonic()
    for index, program in enumerate(missing, 1):
        binary(program, step=f"[{index}/{steps}]")
    if route_missing:
        route_crd(step=f"[{steps}/{steps}]")
    if steps:
        print(f"sandbox: {steps} steps done in {elapsed(time.monotonic() - started)} (cached in {CACHE})",
              file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox.build", description=__doc__)
    parser.add_argument("--for", dest="target", choices=sorted(TARGETS), default="test",
                        help="demo: one default sandbox (make demo, make sandbox); test: everything (default)")
    try:
        build(parser.parse_args(argv).target)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
