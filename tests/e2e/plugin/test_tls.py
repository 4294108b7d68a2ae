"""TLS against the sandbox's real API server: with the cluster's CA taken out of the kubeconfig, the plugin
stops before any request with one line that names --certificate-authority and the kubeconfig field to fix
(with the cluster's name); the flag it names fixes it; --insecure-skip-tls-verify works and warns once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.plugin_runs import audited, one_error_line, run_plugin
from tests.sandbox.audit import RequestCounter
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

COMMAND = ("vm", "example-vm", "-n", "example-namespace", "--port", "80", "--dry-run=client")
WARNING = ("Warning: --insecure-skip-tls-verify: the server's certificate is not verified; anyone on the path can"
           " read and change this traffic")


def without_ca(sandbox: RunningSandbox, directory: Path) -> tuple[dict[str, str], str, str, str]:
    """An environment whose KUBECONFIG is the sandbox's without its CA; the cluster's name, server, CA file."""
    document = yaml.safe_load(sandbox.kubeconfig.read_text())
    context = next(item["context"] for item in document["contexts"] if item["name"] == document["current-context"])
    cluster = next(item["cluster"] for item in document["clusters"] if item["name"] == context["cluster"])
    ca_file = cluster.pop("certificate-authority")
    path = directory / "kubeconfig-without-ca"
    path.write_text(yaml.safe_dump(document))
    return dict(sandbox.env, KUBECONFIG=str(path)), context["cluster"], cluster["server"], ca_file


def test_an_unknown_ca_is_one_line_naming_the_flag_and_the_field(sandbox: RunningSandbox, tmp_path: Path,
                                                                 requests_made: RequestCounter) -> None:
    env, cluster, server, ca_file = without_ca(sandbox, tmp_path)
    result = run_plugin(sandbox, *COMMAND, env=env)
    assert one_error_line(result) == (
        f"error: Unable to connect to the server {server}: TLS certificate verification failed (certificate"
        " signed by unknown authority: the server's certificate is not signed by any CA this machine trusts);"
        " pass the cluster's CA with --certificate-authority FILE, or set"
        f" clusters[{cluster}].cluster.certificate-authority-data (or certificate-authority)")
    assert result.requests == [] and audited(requests_made) == []
    fixed = run_plugin(sandbox, *COMMAND, "--certificate-authority", ca_file, env=env)
    assert fixed.code == 0, fixed
    assert "Warning" not in fixed.stderr
    assert audited(requests_made) and all(request.startswith("get ") or request.startswith("list ")
                                          for request in audited(requests_made))


def test_skipping_verification_works_and_warns_once(sandbox: RunningSandbox, tmp_path: Path) -> None:
    env, _cluster, _server, _ca_file = without_ca(sandbox, tmp_path)
    result = run_plugin(sandbox, *COMMAND, "--insecure-skip-tls-verify", env=env)
    assert result.code == 0, result
    assert [line for line in result.stderr.splitlines() if "certificate" in line] == [WARNING]
    assert len(result.requests) >= 2  # several requests, one warning
