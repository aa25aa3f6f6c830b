"""A private certificate authority for tests of TLS connections to servers on loopback: make_ca() makes one,
issue() signs a server certificate for given host names (DNS names or IP addresses). Each test makes its own,
so a "wrong CA" is simply another make_ca(). Files are PEM; keys unencrypted. No side effects on import."""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate (the file a client trusts) and its key, in a folder of its own."""
    folder: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Issued:
    """A server's certificate and key, signed by an Authority."""
    cert: Path
    key: Path


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert, key) -> None:
    from cryptography.hazmat.primitives import serialization

    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.with_suffix(".key").chmod(0o644)  # a server may read it as its own unprivileged user


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder: Path, name: str = "Test CA") -> Authority:
    """A new self-signed CA under folder/ (created), valid from yesterday for a year."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    folder.mkdir(parents=True, exist_ok=True)
    key, now = _key(), dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(folder / "ca", cert, key)
    return Authority(folder, folder / "ca.crt", folder / "ca.key")


def issue(ca: Authority, hostnames: list[str], stem: str = "server") -> Issued:
    """A server certificate for `hostnames` (DNS names, or IP addresses as text), signed by `ca`, written
    beside it as <stem>.crt and <stem>.key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key, now = _key(), dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(ca.folder / stem, cert, key)
    return Issued(ca.folder / f"{stem}.crt", ca.folder / f"{stem}.key")


def server_context(issued: Issued):
    """An ssl.SSLContext for a server presenting `issued`."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    return context
