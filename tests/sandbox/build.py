"""Builds the sandbox's Go programs from their modules, once, into a cache keyed by each module's go.sum."""

from __future__ import annotations

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
    # For sandboxes started with --kubevirt-version 1.6 only: `binary()` builds it on first use; build_all
    # builds it too, since the suite starts one (tests/e2e/test_sandbox_part2_kubevirt_versions.py).
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


def _module_of(program: str) -> GoModule:
    for module in MODULES.values():
        if program in module.programs:
            return module
    raise KeyError(f"no Go module builds {program!r}")


def binary(program: str) -> Path:
    """The path of a built program, building its module's programs first if the cache lacks them."""
    module = _module_of(program)
    target = CACHE / module.key
    built = target / program
    if built.exists():
        return built
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building the same module
        if not built.exists():
            _build(module, target)
    return built


def _build(module: GoModule, target: Path) -> None:
    env = {**os.environ, "CGO_ENABLED": "0", **module.env}
    for program, package in module.programs.items():
        started = time.monotonic()
        print(f"sandbox: building {program} (first run only; cached in {target})", file=sys.stderr)
        partial = target / f".{program}.partial"
        command = ["go", "build", "-o", str(partial)]
        if module.ldflags:
            command += ["-ldflags", module.ldflags]
        subprocess.run([*command, package], cwd=module.directory, env=env, check=True)
        partial.rename(target / program)
        print(f"sandbox: built {program} in {time.monotonic() - started:.0f}s", file=sys.stderr)


# Not built: a file taken from a Go module as published (fetched like the modules above, verified by go.sum).
OPENSHIFT_API = HERE / "tools" / "openshift-api"
ROUTE_CRD_PATH = "route/v1/zz_generated.crd-manifests/routes.crd.yaml"


def route_crd() -> Path:
    """The Route CRD (route.openshift.io/v1) of the github.com/openshift/api version that tools/openshift-api
    pins, as MicroShift installs it; downloaded once into the cache."""
    digest = hashlib.sha256((OPENSHIFT_API / "go.sum").read_bytes()).hexdigest()[:16]
    target = CACHE / f"openshift-api-{digest}" / "routes.crd.yaml"
    if not target.exists():
        download = subprocess.run(["go", "mod", "download", "-json", "github.com/openshift/api"], cwd=OPENSHIFT_API,
                                  check=True, capture_output=True, text=True)
        source = Path(json.loads(download.stdout)["Dir"]) / ROUTE_CRD_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(source.read_bytes())
        partial.rename(target)
    return target


def build_all() -> None:
    for module in MODULES.values():
        for program in module.programs:
            binary(program)
    route_crd()


if __name__ == "__main__":
    build_all()
