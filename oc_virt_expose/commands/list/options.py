"""`list`'s options: `[TYPE [NAME...]]` (or `TYPE/NAME...`), `-A`, `-l` -> a `ListRequest`; pure, as every
`options` module (a usage error reads nothing from the cluster)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NamedTuple

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import ResourceKind, parse_resource_type
from oc_virt_expose.model.labels import format_labels, parse_label_pairs
from oc_virt_expose.model.settings import OutputFormat

OUTPUTS = (OutputFormat.WIDE, OutputFormat.YAML, OutputFormat.JSON, OutputFormat.NAME)


class ListRequest(NamedTuple):
    kind: ResourceKind
    names: tuple[str, ...] = ()
    """Only these objects (empty: all)."""
    all_namespaces: bool = False
    label_selector: str | None = None
    """`k=v,k2=v2` for the objects' LIST (`-l`)."""


def request_from_args(args: argparse.Namespace) -> ListRequest:
    kind, names = parse_targets(args.resource_type, args.resource_names)
    if names and args.all_namespaces:
        raise UsageError("a resource cannot be retrieved by name across all namespaces: give NAMEs or "
                         "-A/--all-namespaces, not both")
    labels = parse_label_pairs(args.selector, "--selector") if args.selector else {}
    return ListRequest(kind, names, bool(args.all_namespaces), format_labels(labels) or None)


def parse_targets(resource_type: str, resource_names: Sequence[str]) -> tuple[ResourceKind, tuple[str, ...]]:
    """`vm a b` or `vm/a vm/b` -> (kind, names); as kubectl, the two forms do not mix."""
    if "/" not in resource_type:
        if any("/" in name for name in resource_names):
            raise UsageError("there is no need to specify a resource type as a separate argument when passing "
                             "arguments in resource/name form")
        return parse_resource_type(resource_type), tuple(dict.fromkeys(resource_names))
    pairs = [_type_and_name(word) for word in (resource_type, *resource_names)]
    kinds = {kind for kind, _ in pairs}
    if len(kinds) > 1:
        raise UsageError("list takes one TYPE at a time: " + ", ".join(sorted(kind.short for kind in kinds)))
    return pairs[0][0], tuple(dict.fromkeys(name for _, name in pairs))


def _type_and_name(word: str) -> tuple[ResourceKind, str]:
    resource_type, slash, name = word.partition("/")
    if not slash or not name:
        raise UsageError(f'"{word}" is not in TYPE/NAME form: give every object as TYPE/NAME, or TYPE NAME...')
    return parse_resource_type(resource_type), name
