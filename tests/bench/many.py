"""make bench's sections about many VMs: `list` over 2 and over 200 VMs, completion of VM names over 2 and
200, and exposing 50 VMs in one command against 50 separate commands; each with the requests it made,
counted in the sandbox's audit log."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Sequence

from tests.bench.timing import Contender, race, report
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

SMALL, LARGE = 2, 200
BATCH = 50
AGENT = "virt-expose/"


def create_vms(sandbox: RunningSandbox, namespace: str, names: Sequence[str], labels: dict[str, str]) -> None:
    items = []
    for name in names:
        manifest = vm_manifest(name, running=False)
        manifest["metadata"]["labels"] = dict(labels)
        items.append(manifest)
    sandbox.kubectl("create", "namespace", namespace, check=False)
    for start in range(0, len(items), 100):  # one apply per 100 VMs: a List of hundreds is slow to admit
        sandbox.apply({"apiVersion": "v1", "kind": "List", "items": items[start:start + 100]}, namespace)


def requests_of(sandbox: RunningSandbox, argv: Sequence[str], env: dict[str, str]) -> str:
    """`LIST virtualmachines x1, POST services x50, ...`: the requests one run of `argv` made."""
    counter = sandbox.request_counter()
    subprocess.run(list(argv), env=env, capture_output=True, check=False)
    counts = Counter(f"{r.verb} {r.path.rstrip('/').split('/')[-1]}" for r in counter.requests(user_agent=AGENT))
    total = sum(counts.values())
    return f"{total} ({', '.join(f'{name} x{count}' for name, count in sorted(counts.items()))})"


class ManyVMs:
    def __init__(self, sandbox: RunningSandbox, plugin: str, env: dict[str, str], runs: int) -> None:
        self.sandbox, self.plugin, self.env, self.runs = sandbox, plugin, env, runs

    def prepare(self) -> None:
        """Two namespaces of exposed VMs for `list` and completion; VMs to expose, fresh for every run."""
        for count in (SMALL, LARGE):
            namespace = f"list-{count}"
            create_vms(self.sandbox, namespace, [f"vm-{i:03}" for i in range(count)], {"app": "lab"})
            self.run([self.plugin, "vm", "--all", "-n", namespace, "--port", "22"])
        for index in range(self.batch_runs() + 1):
            for way in ("one", "each"):
                create_vms(self.sandbox, f"batch-{way}-{index}", [f"lab-{i:02}" for i in range(BATCH)], {"app": "lab"})

    def batch_runs(self) -> int:
        return max(1, self.runs // 3)  # fifty commands per run: fewer runs

    def run(self, argv: list[str]) -> None:
        subprocess.run(argv, env=self.env, capture_output=True, check=True)

    def listing(self) -> str:
        small, large = ([self.plugin, "list", "-n", f"list-{count}"] for count in (SMALL, LARGE))
        contenders = [Contender(f"list over {LARGE} VMs", lambda i: [large], self.env),
                      Contender(f"list over {SMALL} VMs", lambda i: [small], self.env)]
        race(contenders, self.runs)
        counts = [f"- requests, {count} VMs: {requests_of(self.sandbox, argv, self.env)}"
                  for count, argv in ((LARGE, large), (SMALL, small))]
        return report(f"list: {LARGE} VMs against {SMALL}", contenders) + "\n".join(counts) + "\n"

    def completion(self) -> str:
        large, small = ([self.plugin, "__complete", "vm", "-n", f"list-{count}", ""] for count in (LARGE, SMALL))
        contenders = [Contender(f"completing VM names, {LARGE} VMs", lambda i: [large], self.env),
                      Contender(f"completing VM names, {SMALL} VMs", lambda i: [small], self.env)]
        race(contenders, self.runs)
        return report(f"Completion of NAME: {LARGE} VMs against {SMALL}", contenders)

    def exposing(self) -> str:
        one = Contender(f"one command for {BATCH} VMs", lambda i: [[
            self.plugin, "vm", "--vm-selector", "app=lab", "-n", f"batch-one-{i}", "--port", "22"]], self.env)
        each = Contender(f"{BATCH} commands, one per VM", lambda i: [[
            self.plugin, "vm", f"lab-{j:02}", "-n", f"batch-each-{i}", "--port", "22"] for j in range(BATCH)],
            self.env)
        race([one, each], self.batch_runs())
        create_vms(self.sandbox, "batch-count", [f"lab-{i:02}" for i in range(BATCH)], {"app": "lab"})
        counted = requests_of(self.sandbox, [self.plugin, "vm", "--vm-selector", "app=lab", "-n", "batch-count",
                                             "--port", "22"], self.env)
        return (report(f"Exposing {BATCH} stopped VMs: one command against {BATCH}", [one, each])
                + f"- requests of the one command: {counted}; the goal: at most 3 + 2 per VM = {3 + 2 * BATCH}\n")
