"""Side-by-side timing of whole commands: runs two (or more) commands alternately, so that the machine's
noise falls on all of them alike, and reports the median wall and CPU time of each and their ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# A step is either a command line or a list of them (a sequence run one after the other, e.g. the manual
# steps), made for one run: `make(i)` gives run i its own objects, so that no run depends on another.
Steps = Callable[[int], Sequence[Sequence[str]]]


@dataclass
class Contender:
    name: str
    steps: Steps
    env: dict[str, str] | None = None
    exit_code: int = 0  # what each step must exit with (2 for a usage error)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def run_once(self, index: int) -> None:
        wall = cpu = 0.0
        for argv in self.steps(index):
            started = time.perf_counter()
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
            _, status, usage = os.wait4(process.pid, 0)
            wall += time.perf_counter() - started
            cpu += usage.ru_utime + usage.ru_stime
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != self.exit_code:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{self.name}: {' '.join(argv)} exited {process.returncode}: {stderr}")
            if process.stderr:
                process.stderr.close()
        self.walls.append(wall)
        self.cpus.append(cpu)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    def describe(self) -> str:
        return " && ".join(" ".join(argv) for argv in self.steps(0))


def race(contenders: Sequence[Contender], runs: int, warmup: int = 1) -> None:
    """Runs every contender `warmup` times unmeasured, then `runs` times each, interleaved; run i of every
    contender gets index i (warm-up runs first), so a contender needs `warmup + runs` sets of objects."""
    for index in range(warmup + runs):
        for contender in contenders:
            contender.run_once(index)
    for contender in contenders:
        del contender.walls[:warmup], contender.cpus[:warmup]


def report(title: str, contenders: Sequence[Contender]) -> str:
    """A table: each contender's median wall and CPU time, and its ratio to the first (the subject)."""
    subject = contenders[0]
    lines = [f"## {title}", "", f"| command | median wall | median CPU | {subject.name} ÷ this, wall | CPU |",
             "|---|---|---|---|---|"]
    for contender in contenders:
        lines.append(f"| {contender.name} | {contender.wall * 1000:.0f} ms | {contender.cpu * 1000:.0f} ms | "
                     f"{subject.wall / contender.wall:.2f}x | {subject.cpu / contender.cpu:.2f}x |")
    lines.append("")
    lines += [f"- {contender.name}: `{contender.describe()}`" for contender in contenders]
    lines.append("")
    return "\n".join(lines)
