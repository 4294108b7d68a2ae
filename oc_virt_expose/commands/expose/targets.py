"""Which objects one `expose` is about: `TYPE NAME`, `TYPE/NAME`, several NAMEs, `--vm-selector` or `--all`;
pure."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import ResourceKind, parse_type_and_name
from oc_virt_expose.model.labels import format_labels, parse_label_pairs


class Targets(NamedTuple):
    kind: ResourceKind
    names: Sequence[str] = ()
    """Named objects, in the order given, each once."""
    selector: Mapping[str, str] | None = None
    """`--vm-selector`: every object of `kind` with these labels."""
    every: bool = False
    """`--all`: every object of `kind` in the namespace."""

    @property
    def single(self) -> str | None:
        """The one named object of a plain `expose TYPE NAME`, else None."""
        return self.names[0] if len(self.names) == 1 and self.selector is None and not self.every else None

    @property
    def label_selector(self) -> str | None:
        return format_labels(self.selector) if self.selector else None

    def describe(self) -> str:
        """`VirtualMachines with app=lab`, for messages."""
        plural = f"{self.kind.kind}s"
        if self.selector:
            return f"{plural} with {format_labels(self.selector)}"
        return f"every {self.kind.kind}" if self.every else f"{plural} {', '.join(self.names)}"


def parse_targets(args: argparse.Namespace) -> Targets:
    names = list(args.resource_names)
    selector = parse_label_pairs(args.vm_selector, "--vm-selector") if args.vm_selector else None
    if selector == {}:
        raise UsageError("--vm-selector is empty: give key=value")
    if (selector is not None or args.all) and (names or "/" in args.resource_type):
        raise UsageError("give NAMEs, --vm-selector or --all, not several of them")
    if selector is not None and args.all:
        raise UsageError("--all exposes every object: leave --vm-selector out, or --all")
    if selector is not None or args.all:
        kind, _ = parse_type_and_name(args.resource_type, "-")
        return Targets(kind, (), selector, bool(args.all))
    kind, first = parse_type_and_name(args.resource_type, names[0] if names else None)
    rest = names[1:] if "/" not in args.resource_type else names
    return Targets(kind, tuple(dict.fromkeys([first, *rest])))
