"""`list`'s options: `[TYPE [NAME...]]` or `TYPE/NAME...`, -A, -l, -o; usage errors before any request."""

from __future__ import annotations

import pytest

from oc_virt_expose.cli.argv import normalize_argv
from oc_virt_expose.cli.parser import build_parser, verb_parser
from oc_virt_expose.commands.common import common_options
from oc_virt_expose.commands.list.options import OUTPUTS, ListRequest, request_from_args
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import VM, VMI, VMIRS
from oc_virt_expose.model.settings import OutputFormat


def parse(*argv: str) -> ListRequest:
    parser = build_parser()
    return request_from_args(parser.parse_args(["list", *normalize_argv(list(argv), verb_parser(parser, "list"))]))


def test_type_defaults_to_vm_and_names_keep_their_order() -> None:
    assert parse() == ListRequest(VM)
    assert parse("vmis") == ListRequest(VMI)
    assert parse("vm", "b", "a", "b") == ListRequest(VM, ("b", "a"))
    assert parse("vmirs/pool", "virtualmachineinstancereplicaset/other") == ListRequest(VMIRS, ("pool", "other"))


def test_all_namespaces_and_label_selector() -> None:
    assert parse("-A", "-l", "app=web", "-l", "tier=front") == ListRequest(VM, (), True, "app=web,tier=front")


@pytest.mark.parametrize(("argv", "message"), [
    (["vm", "a", "-A"], "a resource cannot be retrieved by name across all namespaces"),
    (["vm/a", "vmi/b"], "list takes one TYPE at a time: vm, vmi"),
    (["vm/a", "b"], '"b" is not in TYPE/NAME form'),
    (["vm", "vm/a"], "there is no need to specify a resource type as a separate argument"),
    (["pods"], 'unsupported resource type "pods"'),
    (["-l", "app!=web"], "only equality-based key=value selectors are supported"),
])
def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse(*argv)


def test_outputs_are_wide_yaml_json_name() -> None:
    parser = build_parser()
    assert common_options(parser.parse_args(["list", "-o", "WIDE"]), OUTPUTS).output is OutputFormat.WIDE
    with pytest.raises(UsageError, match='invalid --output "table": must be one of wide, yaml, json, name'):
        common_options(parser.parse_args(["list", "-o", "table"]), OUTPUTS)
