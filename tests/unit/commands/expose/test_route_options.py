"""`expose`'s Route flags and `--external-traffic-policy` as options: parsed, checked and the PEM files read
before any request; usage errors never show a file's contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from oc_virt_expose.cli.main import main
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.route import RouteRequest
from oc_virt_expose.model.service import service_spec
from tests.sandbox.pki import CertificateAuthority
from tests.unit.builders import command_line, valid_request

VM = ("vm", "web")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tls")
    ca = CertificateAuthority.create(directory, "route-ca")
    cert, key = ca.issue("shop", "shop.apps.example", dns_names=["shop.apps.example"])
    junk = directory / "junk.pem"
    junk.write_text("MATERIAL-THAT-MUST-NOT-SHOW\n")
    return {"ca": ca.cert_file, "cert": cert, "key": key, "junk": junk}


def test_route_flags_are_read_into_the_request(files: dict[str, Path]) -> None:
    request = valid_request(*VM, "--port", "443", "--route", "--tls", "Reencrypt", "--hostname", "shop.apps.example",
                            "--insecure-policy", "redirect", "--cert", str(files["cert"]), "--key", str(files["key"]),
                            "--dest-ca-cert", str(files["ca"]))
    assert request.route == RouteRequest(
        hostname="shop.apps.example", tls="reencrypt", insecure_policy="Redirect",
        certificate=files["cert"].read_text(), key=files["key"].read_text(),
        destination_ca_certificate=files["ca"].read_text())
    assert valid_request(*VM, "--port", "80").route is None
    assert valid_request(*VM, "--port", "80", "--route").route == RouteRequest()


@pytest.mark.parametrize(("flags", "message"), [
    (("--port", "80", "--hostname", "a.example"), "--hostname needs --route"),
    (("--port", "80", "--route", "--tls", "bogus"),
     'invalid --tls "bogus": must be one of edge, passthrough, reencrypt'),
    (("--port", "80", "--route", "--tls", "passthrough", "--path", "/x"), "--tls passthrough takes no --path"),
    (("--port", "22,80", "--route"), "--route needs --route-port NUMBER|NAME with several TCP ports"),
    (("--port", "80", "--route", "--route-port", "443"), '--route-port "443" is none of the ports of --port'),
    (("--port", "80", "--external-traffic-policy", "Local"), "--external-traffic-policy needs --type NodePort"),
    (("--port", "80", "--type", "NodePort", "--external-traffic-policy", "Nowhere"),
     'invalid --external-traffic-policy "Nowhere": must be one of Cluster, Local'),
])
def test_usage_errors(flags: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError) as error:
        valid_request(*VM, *flags)
    assert message in str(error.value)


def test_files_are_checked_and_never_shown(files: dict[str, Path], tmp_path: Path) -> None:
    edge = (*VM, "--port", "80", "--route", "--tls", "edge")
    with pytest.raises(UsageError, match=f'invalid --key "{files["junk"]}": not a PEM private key') as error:
        valid_request(*edge, "--cert", str(files["cert"]), "--key", str(files["junk"]))
    assert "MATERIAL" not in str(error.value)
    with pytest.raises(UsageError, match=f'invalid --cert "{files["key"]}": not a PEM certificate'):
        valid_request(*edge, "--cert", str(files["key"]), "--key", str(files["key"]))
    with pytest.raises(UsageError, match=f'cannot read --ca-cert "{tmp_path / "none"}": No such file or directory'):
        valid_request(*edge, "--ca-cert", str(tmp_path / "none"))
    with pytest.raises(UsageError, match='cannot read --ca-cert "a\x00b": not a file name'):
        valid_request(*edge, "--ca-cert", "a\x00b")
    binary = tmp_path / "binary.pem"
    binary.write_bytes(b"\xff\xfe-----BEGIN CERTIFICATE-----\n\xff\n-----END CERTIFICATE-----\n")
    with pytest.raises(UsageError, match="a damaged PEM certificate"):
        valid_request(*edge, "--ca-cert", str(binary))


def test_external_traffic_policy_is_set_on_the_service() -> None:
    request = valid_request(*VM, "--port", "22", "--type", "NodePort", "--external-traffic-policy", "local")
    assert request.service.external_traffic_policy == "Local"
    assert service_spec(request.service, {"a": "b"}, [])["externalTrafficPolicy"] == "Local"


def test_route_with_several_objects_is_a_usage_error_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_line("vm", "a", "b", "--route").route
    assert main(["vm", "a", "b", "--port", "80", "--route"]) == 2
    assert "--route with several objects is not supported yet" in capsys.readouterr().err
