"""What `delete` takes down, decided from what was read; pure.

- The Services virt-expose made for the object: those with its label `virt-expose.kubevirt.io/<kind>:
  <id>` and its annotation `virt-expose.kubevirt.io/exposes: <kind>/<name>` (model/service.py); with
  `--name`, that one Service whoever made it (unless virt-expose made it for another object). Services
  that select the object but were not made for it are left in place, and named.
- The Routes whose `spec.to` is a Service to delete.
- The labels given back: each exposure applied its labels as its own field manager `<field manager>:
  <Service>` (model/fields.py). An exposure whose Service is deleted, or gone already, applies again with
  only the labels a remaining Service still selects on; the server then removes the labels only it
  owned, and keeps those a user or another exposure owns too. Exposures are told by their manager's
  field-manager part: the default, or one seen on a Service virt-expose made for the object (a custom
  `--field-manager` whose every Service is gone is not recognised: its labels stay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.commands.delete.options import DeleteRequest
from oc_virt_expose.errors import NotFoundError, RefusedError
from oc_virt_expose.model.defaults import DEFAULT_FIELD_MANAGER
from oc_virt_expose.model.fields import (
    APPLY,
    OWN_PATH,
    TEMPLATE_PATH,
    applied_labels,
    exposure_of,
    label_owners,
    managers_of,
)
from oc_virt_expose.model.kinds import VM, VMI, VMIRS, ResourceKind
from oc_virt_expose.model.labels import LAUNCHER_KEYS, label_selector_matches, launcher_labels, vmi_id
from oc_virt_expose.model.objects import Object, name_of, own_labels, template_labels
from oc_virt_expose.model.route import routed_service
from oc_virt_expose.model.service import EXPOSES_ANNOTATION, exposed_by_label


class Choice(NamedTuple):
    """The Services to delete, and those that select the object but are left in place."""

    delete: list[Object]
    left: list[Object]


class Unlabeling(NamedTuple):
    """One object's labels given back (a VM's template labels, a VMI's or a launcher pod's own)."""

    kind: ResourceKind | None
    """VM: the template's labels; VMI: its own; None: a pod's."""
    obj: Object
    applies: Mapping[str, Mapping[str, str]]
    """Exposure manager -> the labels it applies again (those a remaining Service selects on): one
    server-side apply each."""
    removed: Mapping[str, str]
    """The labels no one holds afterwards: the server removes them."""
    kept: Mapping[str, str]
    """`k=v` -> why it stays, for a label one of the managers owned."""

    @property
    def where(self) -> str:
        return "spec.template.metadata.labels" if self.kind is VM else "metadata.labels"


def exposes(kind: ResourceKind, name: str) -> str:
    """The value of the annotation virt-expose puts on the Services it makes for this object."""
    return f"{kind.qualified}/{name}"


def made_for(service: Mapping[str, Any], kind: ResourceKind, name: str) -> bool:
    """Whether virt-expose made `service` for this object (its label and its annotation)."""
    meta = service.get("metadata") or {}
    return ((meta.get("labels") or {}).get(exposed_by_label(kind.short)) == vmi_id(name)
            and (meta.get("annotations") or {}).get(EXPOSES_ANNOTATION) == exposes(kind, name))


def selects(service: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Service with a selector that these pod labels match."""
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and label_selector_matches({"matchLabels": selector}, labels)


def pod_labels(kind: ResourceKind, target: Mapping[str, Any], pods: Sequence[Mapping[str, Any]] = ()) -> list[
        dict[str, str]]:
    """The label sets of the object's pods: the next one (from its template, for a VM or VMIRS, or its own
    labels, for a VMI, plus KubeVirt's launcher labels) and the running ones as read."""
    labels = own_labels(target) if kind is VMI else template_labels(target)
    launcher = launcher_labels(kind, target)
    return [{**labels, **launcher}, *(own_labels(pod) for pod in pods)]


def choose_services(request: DeleteRequest, target: Mapping[str, Any], services: Sequence[Object],
                    pods: Sequence[Mapping[str, Any]] = ()) -> Choice:
    """The Services to delete (a NotFoundError when `--name` names none and the object has no labels of that
    exposure left, a RefusedError when virt-expose made it for another object) and those left (they select
    the object, not made for it)."""
    kind, name = request.resource, request.name
    if request.service_name is not None:
        named = [service for service in services if name_of(service) == request.service_name]
        if not named and managers_of(target, request.service_name, _path(kind)):
            return Choice([], [])  # deleted by a run that stopped before it gave the labels back: they go now
        if not named:
            raise NotFoundError(f'Error from server (NotFound): services "{request.service_name}" not found',
                                status=404, reason="NotFound", details={"name": request.service_name})
        made = (named[0].get("metadata") or {}).get("annotations", {}).get(EXPOSES_ANNOTATION)
        if made and made != exposes(kind, name):
            raise RefusedError(f'service "{request.service_name}" was made by virt-expose for {made}, not for '
                               f"{exposes(kind, name)}: name that object to delete it")
        return Choice(named, [])
    mine = [service for service in services if made_for(service, kind, name)]
    label_sets = pod_labels(kind, target, pods)
    left = [service for service in services if service not in mine
            and any(selects(service, labels) for labels in label_sets)]
    return Choice(mine, left)


def labels_may_go(request: DeleteRequest, deleted: Sequence[Mapping[str, Any]],
                  remaining: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a deleted Service virt-expose made for the object selects on a label its exposure may have
    added live (not one KubeVirt writes on every launcher pod, such as `vmi.kubevirt.io/id`) that no
    remaining Service selects on: only then are the running VMI and its pods read."""
    return any(key not in LAUNCHER_KEYS and not _selecting(remaining, key, value)
               for service in deleted if made_for(service, request.resource, request.name)
               for key, value in ((service.get("spec") or {}).get("selector") or {}).items())


def routes_to(routes: Sequence[Object], services: Sequence[Object]) -> list[Object]:
    """The Routes whose `spec.to` is one of `services`."""
    names = {name_of(service) for service in services}
    return [route for route in routes if routed_service(route) in names]


def no_service_note(request: DeleteRequest) -> str:
    return f"nothing to delete: virt-expose made no Service for {request.resource.kind} {request.name}"


def left_note(service: Mapping[str, Any], request: DeleteRequest) -> str:
    name = name_of(service)
    return (f"service/{name} selects {request.resource.kind} {request.name} but was not made for it by "
            f"virt-expose: left in place (delete it with --name {name})")


def field_managers(obj: Mapping[str, Any], path: Sequence[str], made: Sequence[Mapping[str, Any]]) -> set[str]:
    """The field-manager parts of exposures on `obj`: the default, and those of managers whose Service
    virt-expose made for the object (`made`), so a custom `--field-manager` is recognised."""
    made_names = {name_of(service) for service in made}
    exposures = [exposure_of(manager) for manager in applied_labels(obj, path)]
    return {DEFAULT_FIELD_MANAGER} | {exposure[0] for exposure in exposures
                                      if exposure is not None and exposure[1] in made_names}


def unlabeling(kind: ResourceKind | None, obj: Object, remaining: Sequence[Mapping[str, Any]],
               field_manager_names: set[str]) -> Unlabeling | None:
    """What `obj` gives back: the labels of every exposure (named `<one of field_manager_names>:<Service>`)
    whose Service is not among `remaining`, but those a remaining Service selects on; None when no exposure
    has anything to give back (no request then: a re-run stays a no-op)."""
    path = _path(kind)
    labels = template_labels(obj) if kind is VM else own_labels(obj)
    alive = {name_of(service) for service in remaining}
    applies: dict[str, dict[str, str]] = {}
    for manager, keys in applied_labels(obj, path).items():
        keep = {key: labels[key] for key in sorted(keys) if key in labels and _selecting(remaining, key, labels[key])}
        if _released(manager, alive, field_manager_names) and set(keep) != keys:
            applies[manager] = keep
    if not applies:
        return None
    removed: dict[str, str] = {}
    kept: dict[str, str] = {}
    owners = label_owners(obj, path)
    releasing = {(manager, APPLY) for manager in applies}
    for key in sorted(key for key, holders in owners.items() if key in labels and holders & releasing):
        holders = owners[key] - _given_up(applies, key)
        selecting = _selecting(remaining, key, labels[key])
        if selecting:
            kept[f"{key}={labels[key]}"] = ", ".join(f"service/{name}" for name in selecting) + " selects on it"
        elif holders:
            kept[f"{key}={labels[key]}"] = "also set by " + ", ".join(sorted(manager for manager, _ in holders))
        else:
            removed[key] = labels[key]
    return Unlabeling(kind, obj, applies, removed, kept)


def _given_up(applies: Mapping[str, Mapping[str, str]], key: str) -> set[tuple[str, str]]:
    """The holders of `key` (manager, operation) that give it up by their apply."""
    return {(manager, APPLY) for manager, keep in applies.items() if key not in keep}


def unlabelings(kind: ResourceKind, target: Object, remaining: Sequence[Mapping[str, Any]],
                made: Sequence[Mapping[str, Any]], vmi: Object | None = None,
                pods: Sequence[Object] = ()) -> list[Unlabeling]:
    """The label changes of the running pods, the VMI (the target itself for a VMI) and a VM's template, in
    that order: the reverse of expose's, so a run that stops midway leaves the template's share, from which
    a re-run finds the rest."""
    if kind is VMIRS:
        return []  # expose never labels a replica set
    vmi = target if kind is VMI else vmi
    objects: list[tuple[ResourceKind | None, Object]] = [(None, pod) for pod in pods]
    objects += [(VMI, vmi)] if vmi is not None else []
    objects += [(VM, target)] if kind is VM else []
    names = set().union(*(field_managers(obj, _path(obj_kind), made) for obj_kind, obj in objects))
    changes = [unlabeling(obj_kind, obj, remaining, names) for obj_kind, obj in objects]
    return [change for change in changes if change is not None]


def _path(kind: ResourceKind | None) -> tuple[str, ...]:
    return TEMPLATE_PATH if kind is VM else OWN_PATH


def _released(manager: str, alive: set[str], field_manager_names: set[str]) -> bool:
    exposure = exposure_of(manager)
    return exposure is not None and exposure[0] in field_manager_names and exposure[1] not in alive


def _selecting(services: Sequence[Mapping[str, Any]], key: str, value: str) -> list[str]:
    """The names of the Services whose selector has `key=value`."""
    return [name_of(service) for service in services
            if ((service.get("spec") or {}).get("selector") or {}).get(key) == value]


