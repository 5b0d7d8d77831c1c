"""This installation's identity and C2PA signing keys, made on first use, kept in the data dir.

The data dir is the ``data_dir`` argument, else ``$KINETOSCOPE_DATA_DIR``,
else ``$XDG_DATA_HOME/kinetoscope`` (``~/.local/share/kinetoscope``). Its
``provenance/`` folder (mode 0700, every file 0600) holds:

- ``installation_id``  a random id, carried in the watermark (as a tag) and the manifest
- ``ca.pem``, ``ca.key``  this installation's certificate authority (ES256, P-256);
  give ``ca.pem`` to a verifier as a trust anchor and files from here read "trusted"
- ``recipe.key``  a random secret: the manifest's recipe hash is an HMAC with it, so a
  short prompt cannot be recovered from the hash by guessing prompts
- ``signer.pem``, ``signer.key``  the end-entity signing certificate (leaf first, then
  its chain) and its key. c2pa 0.38 refuses a self-signed leaf, so the leaf is issued by
  the CA with BasicConstraints ca=false, KeyUsage digitalSignature and ExtendedKeyUsage
  emailProtection.

An operator who has their own certificate replaces ``signer.pem``/``signer.key``
(and ``ca.pem`` with the root that verifiers should trust), or calls
``install_operator_cert``, which checks the pair first. Nothing here uses the network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS, SIGNER_YEARS = 20, 10
RENEW_BEFORE = dt.timedelta(days=30)  # a signer certificate this close to expiry is re-issued from the CA


@dataclass(frozen=True)
class Keys:
    folder: Path
    installation_id: str
    ca_pem: bytes  # trust anchor(s) for files signed here
    chain_pem: bytes  # signing certificate, then its chain
    key_pem: bytes  # PKCS#8 private key of the signing certificate
    recipe_key: bytes  # secret for the recipe HMAC

    @property
    def signer_name(self) -> str:
        cert = x509.load_pem_x509_certificate(self.chain_pem)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return names[0].value if names else cert.subject.rfc4514_string()


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data dir: ``path``, else $KINETOSCOPE_DATA_DIR, else $XDG_DATA_HOME/kinetoscope."""
    if path:
        return Path(path).expanduser()
    if os.environ.get("KINETOSCOPE_DATA_DIR"):
        return Path(os.environ["KINETOSCOPE_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "kinetoscope"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _usage(**on) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kinetoscope"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(installation_id: str):
    """(key, certificate) of a new installation CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"kinetoscope installation {installation_id[:12]} CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(hours=1)).not_valid_after(_now() + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_signer(ca_key, ca_cert: x509.Certificate, installation_id: str):
    """(key, certificate) of a new signing certificate issued by the installation CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(f"kinetoscope installation {installation_id[:12]}"))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(hours=1)).not_valid_after(
                min(_now() + dt.timedelta(days=365 * SIGNER_YEARS), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _create(folder: Path) -> None:
    """Make a new installation in a temp folder and move it into place (two processes may race: one wins)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")
    tmp.mkdir(mode=0o700)
    try:
        installation_id = uuid.uuid4().hex
        ca_key, ca = make_ca(installation_id)
        key, cert = make_signer(ca_key, ca, installation_id)
        for name, data in (("installation_id", installation_id.encode() + b"\n"), ("ca.pem", _pem(ca)),
                           ("ca.key", _key_pem(ca_key)), ("signer.pem", _pem(cert) + _pem(ca)),
                           ("signer.key", _key_pem(key))):
            _write_private(tmp / name, data)
        try:
            os.rename(tmp, folder)  # atomic; fails if another process got there first
        except OSError:
            if not (folder / "signer.key").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _renew_if_expiring(folder: Path) -> None:
    cert = x509.load_pem_x509_certificate((folder / "signer.pem").read_bytes())
    if cert.not_valid_after_utc - _now() > RENEW_BEFORE or not (folder / "ca.key").is_file():
        return  # still good, or an operator's certificate (no CA key here): theirs to renew
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key, cert = make_signer(ca_key, ca, (folder / "installation_id").read_text().strip())
    _write_private(folder / "signer.key", _key_pem(key))
    _write_private(folder / "signer.pem", _pem(cert) + _pem(ca))


def load_keys(data_dir_path: str | os.PathLike | None = None) -> Keys:
    """This installation's keys, created on first use (see module doc)."""
    folder = data_dir(data_dir_path) / "provenance"
    if not (folder / "signer.key").is_file():
        _create(folder)
    _renew_if_expiring(folder)
    if not (folder / "recipe.key").is_file():
        _write_private(folder / "recipe.key", os.urandom(32))
    read = lambda name: (folder / name).read_bytes()  # noqa: E731
    return Keys(folder, read("installation_id").decode().strip(), read("ca.pem"), read("signer.pem"), read("signer.key"),
                read("recipe.key"))


def trust_anchors(data_dir_path: str | os.PathLike | None = None) -> bytes | None:
    """This installation's CA certificate(s), or None where no installation was made (never creates one)."""
    ca = data_dir(data_dir_path) / "provenance" / "ca.pem"
    return ca.read_bytes() if ca.is_file() else None


def installation_id(data_dir_path: str | os.PathLike | None = None) -> str:
    return load_keys(data_dir_path).installation_id


def install_operator_cert(cert_path, key_path, ca_path=None, data_dir_path=None) -> Keys:
    """Use an operator's own signing certificate (PEM chain, leaf first) and key from now on.

    Checks that the key matches the leaf, that the leaf is not a CA and may
    sign (c2pa refuses otherwise); ``ca_path`` (the root verifiers should
    trust) replaces ``ca.pem``. The installation CA key is removed, so the
    installation never re-issues over the operator's certificate.
    """
    chain = Path(cert_path).read_bytes()
    key_pem = Path(key_path).read_bytes()
    leaf = x509.load_pem_x509_certificate(chain)
    key = serialization.load_pem_private_key(key_pem, None)
    if key.public_key().public_numbers() != leaf.public_key().public_numbers():
        raise ValueError(f"{key_path} is not the private key of the certificate in {cert_path}")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{key_path}: only ES256 (P-256 EC) keys are supported")
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError(f"{cert_path}: the signing certificate must not be a CA (BasicConstraints ca=false)")
    except x509.ExtensionNotFound:
        pass
    keys = load_keys(data_dir_path)
    _write_private(keys.folder / "signer.pem", chain)
    _write_private(keys.folder / "signer.key", key_pem)
    if ca_path:
        _write_private(keys.folder / "ca.pem", Path(ca_path).read_bytes())
    with contextlib.suppress(FileNotFoundError):
        (keys.folder / "ca.key").unlink()
    return load_keys(data_dir_path)
