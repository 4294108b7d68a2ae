"""TLS: the server's certificate is verified unless --insecure-skip-tls-verify (or the kubeconfig's
insecure-skip-tls-verify), which says so once per run on stderr (never in completion); a certificate the
client cannot trust gives one line that names --certificate-authority and the kubeconfig field to fix, with
the cluster's name. Run through the plugin's command line against the recording HTTPS server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from oc_virt_expose.access import transport
from oc_virt_expose.access.client import Client
from oc_virt_expose.errors import ConnectionFailure
from tests.unit.access.fake_apiserver import PKI, VM, FakeAPI, connect, issue, serve
from tests.unit.access.side_by_side import (
    PLUGIN,
    answer_both,
    b64,
    environment,
    run_kubectl,
    run_plugin,
    write_kubeconfig,
)

WARNING = "the server's certificate is not verified; anyone on the path can read and change this traffic"


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_certificate_from_an_unknown_ca_names_the_flag_and_the_kubeconfig_field(
        api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    answer_both(api)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, {"token": "t"}, pki,
                                  cluster={"certificate-authority-data": b64(pki.other_ca.cert_pem)})
    line = one_error(run_plugin(kubeconfig, env=environment(tmp_path), verbosity="0"))
    assert line == (f"error: Unable to connect to the server {api.url}: TLS certificate verification failed"
                    " (certificate signed by unknown authority: the server's certificate is not signed by the CA in"
                    " clusters[k].cluster.certificate-authority-data); pass the cluster's CA with"
                    " --certificate-authority FILE, or set clusters[k].cluster.certificate-authority-data (or"
                    " certificate-authority)")
    kubectl = run_kubectl(kubeconfig, env=environment(tmp_path))
    assert kubectl.returncode == 1 and "x509: certificate signed by unknown authority" in kubectl.stderr
    assert api.seen == []


def test_the_ca_file_of_the_kubeconfig_or_of_the_flag_is_named(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    answer_both(api)
    (tmp_path / "other-ca.crt").write_bytes(pki.other_ca.cert_pem)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, {"token": "t"}, pki, ca=False,
                                  cluster={"certificate-authority": "other-ca.crt"})  # relative to the file
    line = one_error(run_plugin(kubeconfig, env=environment(tmp_path), verbosity="0"))
    assert (f"not signed by the CA file {tmp_path}/other-ca.crt of clusters[k].cluster.certificate-authority);"
            " pass the cluster's CA with --certificate-authority FILE, or set") in line
    flagged = run_plugin(kubeconfig, "--certificate-authority", str(tmp_path / "other-ca.crt"),
                         env=environment(tmp_path), verbosity="0")
    assert f"not signed by the CA file {tmp_path}/other-ca.crt given by --certificate-authority);" in one_error(flagged)


def test_without_a_ca_the_system_roots_are_named(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    answer_both(api)
    kubeconfig = write_kubeconfig(tmp_path / "config", api.url, {"token": "t"}, pki, ca=False)
    done = run_plugin(kubeconfig, env=environment(tmp_path, SSL_CERT_FILE=str(tmp_path / "none.pem")),
                      verbosity="0")
    assert ("(certificate signed by unknown authority: the server's certificate is not signed by any CA this"
            " machine trusts); pass the cluster's CA with --certificate-authority FILE, or set"
            " clusters[k].cluster.certificate-authority-data (or certificate-authority)") in one_error(done)


def test_a_name_the_certificate_does_not_hold_points_at_tls_server_name(pki: PKI, tmp_path: Path) -> None:
    named_only = issue("apiserver", issuer=pki.ca, names=("kubernetes.default.svc",))
    for api in serve(tmp_path, pki, server=named_only):
        with Client(connect(api, pki, cluster="prod")) as client, pytest.raises(ConnectionFailure) as caught:
            client.get(VM)
        assert str(caught.value) == (
            f"Unable to connect to the server {api.url}: TLS certificate verification failed (IP address mismatch,"
            " certificate is not valid for '127.0.0.1'); use a server address the certificate names, or give the"
            " name to check with --tls-server-name or clusters[prod].cluster.tls-server-name")


def insecure_kubeconfig(path: Path, api: FakeAPI, pki: PKI) -> Path:
    kubeconfig = write_kubeconfig(path, api.url, {"token": "t"}, pki, ca=False)
    document = yaml.safe_load(kubeconfig.read_text())
    document["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    kubeconfig.write_text(yaml.safe_dump(document))
    return kubeconfig


def test_skipping_verification_warns_once(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    answer_both(api)
    without_ca = write_kubeconfig(tmp_path / "config", api.url, {"token": "t"}, pki, ca=False)
    flagged = run_plugin(without_ca, "--insecure-skip-tls-verify", env=environment(tmp_path), verbosity="0")
    assert flagged.returncode == 0, flagged.stderr
    assert flagged.stderr.splitlines()[0] == f"Warning: --insecure-skip-tls-verify: {WARNING}"
    assert flagged.stderr.count("Warning") == 1
    from_file = run_plugin(insecure_kubeconfig(tmp_path / "insecure", api, pki), env=environment(tmp_path),
                           verbosity="6")
    assert from_file.returncode == 0, from_file.stderr
    warnings = [line for line in from_file.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [f'Warning: insecure-skip-tls-verify of cluster "k" in the kubeconfig: {WARNING}']
    assert len(api.seen) == 2


def test_once_per_process_however_many_connections(api: FakeAPI, pki: PKI) -> None:
    api.route("GET", VM, (200, {}))
    said: list[str] = []
    transport.on_unverified_server(said.append)
    try:
        for _ in range(3):
            with Client(connect(api, pki, ca_data=b"", insecure=True,
                                trust_source="--insecure-skip-tls-verify")) as client:
                client.get(VM)
    finally:
        transport.on_unverified_server(None)
    assert said == [f"--insecure-skip-tls-verify: {WARNING}"]
    assert api.connections == 3


def test_completion_says_nothing(api: FakeAPI, pki: PKI, tmp_path: Path) -> None:
    api.route("GET", "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines",
              (200, {"kind": "List", "metadata": {}, "items": [{"metadata": {"name": "vm-a"}}]}))
    kubeconfig = insecure_kubeconfig(tmp_path / "config", api, pki)
    done = subprocess.run([str(PLUGIN), "__complete", "--kubeconfig", str(kubeconfig), "-n", "ns", "vm", ""],
                          capture_output=True, text=True, check=False,
                          env=environment(tmp_path, VIRT_EXPOSE_COMPLETION_TIMEOUT="30"))  # a busy machine
    assert (done.returncode, done.stdout, done.stderr) == (0, "vm-a\n", "")
    assert len(api.seen) == 1
