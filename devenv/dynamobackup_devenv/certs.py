"""The key material a throwaway kube-apiserver needs: a CA, its serving and admin client certificates,
and the service-account token signing key. ECDSA P-256 throughout, because generating it is instant."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)
# Names a client inside or outside the cluster may use for the API server; the IP is the first address
# of --service-cluster-ip-range, the `kubernetes` Service's ClusterIP.
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class ControlPlaneCerts:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public_key: Path


def cert_paths(directory: Path) -> ControlPlaneCerts:
    """Where write_control_plane_certs puts each file in `directory`."""
    return ControlPlaneCerts(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        service_account_key=directory / "sa.key",
        service_account_public_key=directory / "sa.pub",
    )


def write_control_plane_certs(directory: Path, service_ip: str) -> ControlPlaneCerts:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    ca_cert = _ca_certificate(ca_key)
    serving_key = _new_key()
    serving = _leaf_certificate(
        ca_cert,
        ca_key,
        serving_key,
        subject=_name("kube-apiserver"),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[
            *(x509.DNSName(name) for name in SERVING_DNS_NAMES),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(service_ip)),
        ],
    )
    admin_key = _new_key()
    # The API server maps O= to groups; system:masters is bound to cluster-admin and skips RBAC.
    admin = _leaf_certificate(
        ca_cert,
        ca_key,
        admin_key,
        subject=_name("dbr-admin", organization="system:masters"),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        sans=[],
    )
    sa_key = _new_key()
    certs = cert_paths(directory)
    _write(certs.ca_cert, _cert_pem(ca_cert))
    _write(certs.serving_cert, _cert_pem(serving))
    _write(certs.serving_key, _key_pem(serving_key))
    _write(certs.admin_cert, _cert_pem(admin))
    _write(certs.admin_key, _key_pem(admin_key))
    _write(certs.service_account_key, _key_pem(sa_key))
    _write(
        certs.service_account_public_key,
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return certs


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    # Backdated a little so a clock step between processes cannot make a fresh cert "not yet valid".
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(
        now + VALIDITY
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.CertificateBuilder:
    """What every certificate here says: who, signed by whom, whether a CA, and the key's uses (a
    signature for the TLS handshake; certificates and CRLs too for a CA)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=ca,
                crl_sign=ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _name("dbr-dev-ca")
    builder = _builder(name, name, key, ca=True).add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    return _validity(builder).sign(key, hashes.SHA256())


def _leaf_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    *,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    builder = (
        _builder(subject, ca_cert.subject, key, ca=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _validity(builder).sign(ca_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes) -> None:
    # Private keys among them: readable by the owner only.
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)
