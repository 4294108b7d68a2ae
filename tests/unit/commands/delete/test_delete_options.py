"""`delete`'s options: `TYPE NAME`, `--name`, `--keep-label`, `-o name`, `--dry-run`, checked with no
cluster (usage errors exit 2 through `cli.main`)."""

from __future__ import annotations

import argparse

import pytest

from oc_virt_expose.cli.argv import normalize_argv
from oc_virt_expose.cli.main import main
from oc_virt_expose.cli.parser import build_parser, verb_parser
from oc_virt_expose.commands.common import common_options
from oc_virt_expose.commands.delete.options import OUTPUTS, DeleteRequest, request_from_args
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import VM, VMI
from oc_virt_expose.model.settings import DryRun, OutputFormat


def delete_args(*argv: str) -> argparse.Namespace:
    parser = build_parser()
    return parser.parse_args(["delete", *normalize_argv(list(argv), verb_parser(parser, "delete"))])


def test_type_and_name_in_either_form_and_defaults() -> None:
    assert request_from_args(delete_args("vm", "example-vm")) == DeleteRequest(VM, "example-vm")
    assert request_from_args(delete_args("virtualmachineinstances/web")) == DeleteRequest(VMI, "web")


def test_name_and_keep_label() -> None:
    request = request_from_args(delete_args("vm", "web", "--name", "web-ssh", "--keep-label"))
    assert request == DeleteRequest(VM, "web", "web-ssh", keep_label=True)


@pytest.mark.parametrize(("argv", "message"), [
    (("vm",), "NAME is required"),
    (("vm", "web", "--name", "Web_SSH"), 'invalid --name "Web_SSH"'),
    (("pod", "web"), 'unsupported resource type "pod"'),
])
def test_bad_arguments_are_usage_errors(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        request_from_args(delete_args(*argv))


def test_output_name_and_both_dry_run_modes_are_accepted() -> None:
    assert OUTPUTS == (OutputFormat.NAME,)
    assert common_options(delete_args("vm", "web", "-o", "name"), OUTPUTS).output is OutputFormat.NAME
    assert common_options(delete_args("vm", "web", "--dry-run"), OUTPUTS).dry_run is DryRun.CLIENT
    assert common_options(delete_args("vm", "web", "--dry-run=server"), OUTPUTS).dry_run is DryRun.SERVER
    with pytest.raises(UsageError, match='invalid --output "yaml": must be one of name'):
        common_options(delete_args("vm", "web", "-o", "yaml"), OUTPUTS)


def test_a_usage_error_exits_2_with_one_line_naming_the_verbs_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["delete", "vm", "web", "--name", "-bad-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith('error: invalid --name "-bad-"')
    assert err.rstrip().endswith(" delete --help' for usage.")
