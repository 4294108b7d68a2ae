"""make bench: virt-expose against kubectl, the manual steps and virtctl, side by side in one run.

    python -m tests.bench [--runs N]

Starts a sandbox cluster, gives every contender its own stopped VMs (one per run, so that no run finds the
work of another done), times them alternately, counts each one's API requests in the sandbox's audit log,
and prints Markdown tables (the README's performance section is written from them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.bench.many import ManyVMs
from tests.bench.timing import Contender, Steps, race, report
from tests.packaging import build_dist
from tests.packaging.install import install_fresh_venv
from tests.sandbox.build import binary
from tests.sandbox.kinds import SandboxKind
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox, start_sandbox

KUBECTL = str(Path(sys.executable).parent / "kubectl")
NAMESPACE = "bench"
SEED_LABEL_PATCH = '{"spec":{"template":{"metadata":{"labels":{"special":"key"}}}}}'


def seed_service(name: str, node_port: int) -> dict:
    """The seed chapter's Service, under another name and node port for each run."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"selector": {"special": "key"}, "type": "NodePort",
                     "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": node_port}]}}


class Bench:
    """The plugin runs from a fresh venv where it is pip-installed as users install it (not the editable
    development install, whose import hook and uncompiled sources would slow every start)."""

    def __init__(self, sandbox: RunningSandbox, workdir: Path, venv_bin: Path, runs: int) -> None:
        self.sandbox, self.workdir, self.venv_bin, self.runs = sandbox, workdir, venv_bin, runs
        self.plugin = str(venv_bin / "oc-virt_expose")
        self.kubeconfig = str(sandbox.kubeconfig)
        self.env = {key: value for key, value in sandbox.env.items() if key != "PYTHONDONTWRITEBYTECODE"}

    def prepare(self, prefixes: list[str]) -> None:
        count = self.runs + 1
        items = [vm_manifest(f"{prefix}-{i}", running=False) for prefix in prefixes for i in range(count)]
        self.sandbox.kubectl("create", "namespace", NAMESPACE)
        self.sandbox.apply({"apiVersion": "v1", "kind": "List", "items": items}, NAMESPACE)
        for i in range(count):
            (self.workdir / f"svc-{i}.json").write_text(json.dumps(seed_service(f"manual-{i}", 30100 + i)))

    def contender(self, name: str, steps: Steps) -> Contender:
        return Contender(name, steps, self.env)

    def start_up(self) -> str:
        contenders = [
            self.contender("oc-virt_expose --help", lambda i: [[self.plugin, "--help"]]),
            Contender("oc-virt_expose (usage error)", lambda i: [[self.plugin, "vm", "x", "--port", "80/XTP"]],
                      self.env, exit_code=2),
            self.contender("kubectl version --client", lambda i: [[KUBECTL, "version", "--client"]]),
        ]
        race(contenders, self.runs * 3)
        return report("Start-up: help and usage errors", contenders)

    @staticmethod
    def seed_arguments(i: int) -> list[str]:
        return ["vm", f"plugin-{i}", "-n", NAMESPACE, "--name", f"plugin-{i}", "--selector", "special=key",
                "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", str(30000 + i)]

    def seed_scenario(self) -> str:
        plugin = self.contender("virt-expose (one command)", lambda i: [[self.plugin, *self.seed_arguments(i)]])
        manual = self.contender("by hand (kubectl patch, create -f, get)", lambda i: [
            [KUBECTL, "patch", "vm", f"manual-{i}", "-n", NAMESPACE, "--type", "merge", "-p", SEED_LABEL_PATCH],
            [KUBECTL, "create", "-f", str(self.workdir / f"svc-{i}.json")],
            [KUBECTL, "get", "service", "-n", NAMESPACE]])
        race([plugin, manual], self.runs)
        return report("The seed scenario (stopped VM, NodePort 80 -> 9376, selector special=key)", [plugin, manual])

    def against_virtctl(self) -> str:
        virtctl = str(binary("virtctl-1.7"))
        plugin = self.contender("virt-expose", lambda i: [[
            self.plugin, "vm", f"peer-{i}", "-n", NAMESPACE, "--port", "80", "--target-port", "9376"]])
        peer = self.contender("virtctl expose (v1.7.0)", lambda i: [[
            virtctl, "--kubeconfig", self.kubeconfig, "expose", "vm", f"virtctl-{i}", "-n", NAMESPACE,
            "--name", f"virtctl-{i}", "--port", "80", "--target-port", "9376"]])
        race([plugin, peer], self.runs)
        return report("Against virtctl expose (stopped VM, ClusterIP 80 -> 9376)", [plugin, peer])

    def one_file(self) -> str:
        """dist/oc-virt_expose against the same version pip-installed, on the same interpreter, from the
        second run on, with and without PYTHONDONTWRITEBYTECODE=1; the real command re-runs the seed
        scenario of run 0 (its answer: unchanged)."""
        work = self.workdir / "one-file"
        executable, _ = build_dist.build(work / "dist", None)
        python, installed = str(self.venv_bin / "python3"), self.plugin
        base = {**self.env, "VIRT_EXPOSE_CACHE": str(work / "cache")}
        sections = []
        for case, args in (("--help", ["--help"]), ("the seed scenario again", self.seed_arguments(0))):
            for extra in ({}, {"PYTHONDONTWRITEBYTECODE": "1"}):
                env = {**base, **extra}
                pair = [Contender("one-file", lambda i, a=args: [[python, str(executable), *a]], env),
                        Contender("pip-installed", lambda i, a=args: [[installed, *a]], env)]
                race(pair, self.runs)
                flag = " with PYTHONDONTWRITEBYTECODE=1" if extra else ""
                sections.append(report(f"One-file build: {case}{flag}", pair))
        return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs of each command (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="virt-expose-bench-") as directory:
        workdir = Path(directory)
        print("bench: installing the plugin into a fresh venv", file=sys.stderr)
        venv_bin = install_fresh_venv(workdir / "install")
        print("bench: starting the sandbox cluster", file=sys.stderr)
        sandbox = start_sandbox(workdir / "sandbox", SandboxKind(seed="empty"))
        try:
            bench = Bench(sandbox, workdir, venv_bin, args.runs)
            bench.prepare(["plugin", "manual", "peer", "virtctl"])
            many = ManyVMs(sandbox, bench.plugin, bench.env, args.runs)
            many.prepare()
            for section in (bench.start_up, bench.seed_scenario, bench.against_virtctl, bench.one_file,
                            many.listing, many.completion, many.exposing):
                print(section(), flush=True)
        finally:
            sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
