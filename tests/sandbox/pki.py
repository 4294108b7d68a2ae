"""Certificates and keys for the sandbox: a CA that issues server and client certificates, and the
service-account signing key pair, all written as PEM files (the form Kubernetes flags take)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Usage = Literal["server", "client", "both"]
KeyKind = Literal["rsa", "ecdsa"]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
IPAddress = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]

_CA_VALIDITY = datetime.timedelta(days=3650)
_LEAF_VALIDITY = datetime.timedelta(days=365)
# Backdated: valid at once even if a component's clock reads slightly behind.
_BACKDATE = datetime.timedelta(hours=1)
_EXTENDED_USAGES: dict[str, list[x509.ObjectIdentifier]] = {
    "server": [ExtendedKeyUsageOID.SERVER_AUTH],
    "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
}


def new_private_key(kind: KeyKind = "ecdsa") -> PrivateKey:
    """ECDSA P-256 by default: generated in a millisecond, where RSA takes tens of them."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key kind {kind!r}")


def write_private_key(path: Path, key: PrivateKey) -> Path:
    """Writes an unencrypted PKCS#8 PEM readable by its owner only."""
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path


def write_key_pair(directory: Path, name: str, kind: KeyKind = "rsa") -> tuple[Path, Path]:
    """A key pair as `<name>.key` (PKCS#8) and `<name>.pub` (SubjectPublicKeyInfo), e.g. for signing
    service-account tokens (kube-apiserver --service-account-signing-key-file and
    --service-account-key-file, kube-controller-manager --service-account-private-key-file).
    RSA by default: RS256, as in most clusters.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = new_private_key(kind)
    private = write_private_key(directory / f"{name}.key", key)
    public = directory / f"{name}.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def _subject(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _validity(builder: x509.CertificateBuilder,
              lifetime: datetime.timedelta) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - _BACKDATE).not_valid_after(now + lifetime)


def _alternative_names(dns_names: Iterable[str],
                       ip_addresses: Iterable[IPAddress]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    return names


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA kept as `ca.crt` and `ca.key` in its own directory; what it issues goes next to them."""

    directory: Path
    certificate: x509.Certificate
    private_key: PrivateKey

    @classmethod
    def create(cls, directory: Path, name: str) -> CertificateAuthority:
        """A new self-signed CA with common name `name`, written to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        key = new_private_key()
        subject = _subject(name)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            _validity(x509.CertificateBuilder(), _CA_VALIDITY)
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(ski, critical=False)
        )
        certificate = builder.sign(key, hashes.SHA256())
        write_private_key(directory / "ca.key", key)
        (directory / "ca.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(directory, certificate, key)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """The CA that `create` wrote to `directory` (to issue more certificates later)."""
        certificate = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise TypeError(f"{directory / 'ca.key'}: unsupported key type {type(key).__name__}")
        return cls(directory, certificate, key)

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate as PEM bytes, e.g. for a `caBundle` (base64 of these bytes)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, name: str, common_name: str, *, organizations: Iterable[str] = (),
              dns_names: Iterable[str] = (), ip_addresses: Iterable[IPAddress] = (),
              usage: Usage = "server") -> tuple[Path, Path]:
        """Issues a certificate, writes `<name>.crt` and `<name>.key` next to the CA and returns
        their paths. For a Kubernetes client-certificate user, `common_name` is the user name and
        `organizations` are its groups."""
        if name == "ca":
            raise ValueError("the name 'ca' is the CA's own")
        if usage not in _EXTENDED_USAGES:
            raise ValueError(f"usage must be server, client or both, not {usage!r}")
        key = new_private_key()
        certificate = self._sign(key, _subject(common_name, organizations),
                                 _alternative_names(dns_names, ip_addresses), usage)
        cert_path = self.directory / f"{name}.crt"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cert_path, write_private_key(self.directory / f"{name}.key", key)

    def _sign(self, key: PrivateKey, subject: x509.Name, alternative_names: list[x509.GeneralName],
              usage: Usage) -> x509.Certificate:
        extensions = self.certificate.extensions
        ca_ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            _validity(x509.CertificateBuilder(), _LEAF_VALIDITY)
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(_EXTENDED_USAGES[usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
        )
        if alternative_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names),
                                            critical=False)
        return builder.sign(self.private_key, hashes.SHA256())


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=not ca, data_encipherment=False, key_agreement=False,
                         key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)
