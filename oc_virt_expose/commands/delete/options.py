"""`delete`'s options: `TYPE NAME [--name SVC] [--keep-label]` -> a validated `DeleteRequest`; pure (no
cluster), so a usage error exits 2 before any request and imports no more than `--help`."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from oc_virt_expose.model.kinds import ResourceKind, parse_type_and_name
from oc_virt_expose.model.service import validate_service_name
from oc_virt_expose.model.settings import OutputFormat

OUTPUTS = (OutputFormat.NAME,)


class DeleteRequest(NamedTuple):
    """What to take down: what virt-expose made for the object, or only the Service `service_name`."""

    resource: ResourceKind
    name: str
    service_name: str | None = None
    """`--name`: this one Service (and its Routes), whoever made it."""
    keep_label: bool = False


def request_from_args(args: argparse.Namespace) -> DeleteRequest:
    resource, name = parse_type_and_name(args.resource_type, args.resource_name, verb="delete")
    if args.service_name is not None:
        validate_service_name(args.service_name, given=True)
    return DeleteRequest(resource, name, args.service_name, args.keep_label)
