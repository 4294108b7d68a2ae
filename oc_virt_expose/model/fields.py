"""Who owns which labels of an object, from its `metadata.managedFields` (server-side apply); pure.

virt-expose writes labels by server-side apply, one field manager per exposure (`<field manager>:<Service
name>`): the server merges concurrent appliers, refuses a label someone else set to another value, and
records which labels each exposure owns, so `delete` gives back exactly those (a label a user or another
exposure also owns stays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

APPLY = "Apply"
TEMPLATE_PATH = ("spec", "template", "metadata")
"""Where a VM's (or VMIRS's) template labels are; an object's own labels are at `("metadata",)`."""
OWN_PATH = ("metadata",)


def label_manager(field_manager: str, service_name: str) -> str:
    """The field manager of the labels one exposure (one Service) applies."""
    return f"{field_manager}:{service_name}"


def label_owners(obj: Mapping[str, Any], path: Sequence[str] = OWN_PATH) -> dict[str, set[tuple[str, str]]]:
    """Label key -> {(manager, operation)} of the labels map at `path` (e.g. `TEMPLATE_PATH`)."""
    owners: dict[str, set[tuple[str, str]]] = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        fields: Any = entry.get("fieldsV1") or {}
        for step in (*path, "labels"):
            fields = fields.get(f"f:{step}") if isinstance(fields, dict) else None
        for key in fields if isinstance(fields, dict) else ():
            if key.startswith("f:"):
                owners.setdefault(key[2:], set()).add((str(entry.get("manager")), str(entry.get("operation"))))
    return owners


def managers_of(obj: Mapping[str, Any], suffix: str, path: Sequence[str] = OWN_PATH) -> list[str]:
    """The apply managers named `...:<suffix>` that own labels at `path` (one exposure's, whatever
    `--field-manager` it was made with)."""
    found = {manager for holders in label_owners(obj, path).values() for manager, operation in holders
             if operation == APPLY and manager.endswith(f":{suffix}")}
    return sorted(found)


def labels_to_apply(obj: Mapping[str, Any], wanted: Mapping[str, str], missing: Mapping[str, str], manager: str,
                    path: Sequence[str] = OWN_PATH) -> dict[str, str]:
    """The labels `manager` applies to `obj`: all it wants (an apply states everything its manager wants),
    when one is missing or is present but held only through another exposure's apply (so deleting that
    one keeps it); else none (no request: it owns them already, or only the user does)."""
    if missing:
        return dict(wanted)
    owners = label_owners(obj, path)
    for key in wanted:
        holders = owners.get(key, set())
        if (manager, APPLY) not in holders and any(operation == APPLY for _, operation in holders):
            return dict(wanted)
    return {}


def exposure_of(manager: str) -> tuple[str, str] | None:
    """(field manager, Service name) of an exposure's manager (`label_manager`'s inverse); None for a
    manager of another form."""
    field_manager, colon, service_name = manager.rpartition(":")
    return (field_manager, service_name) if colon and field_manager and service_name else None


def applied_labels(obj: Mapping[str, Any], path: Sequence[str] = OWN_PATH) -> dict[str, set[str]]:
    """Apply manager -> the keys of the labels at `path` it owns (what it gives back, or keeps, at delete)."""
    applied: dict[str, set[str]] = {}
    for key, holders in label_owners(obj, path).items():
        for manager, operation in holders:
            if operation == APPLY:
                applied.setdefault(manager, set()).add(key)
    return applied
