"""Signing keys for Content Credentials: where they live, and a local development CA (``maestro keys init``).

Layout under ``$MAESTRO_HOME/keys`` (directory mode 0700, private keys 0600):

* ``ca.pem`` / ``ca.key``: a self-made ES256 (P-256) certificate authority: the trust anchor ``maestro verify``
  uses. Production deployments point the settings at their own CA instead.
* ``signer.pem`` / ``signer.key``: the signing certificate chain (leaf, then CA) and its private key.

Private keys are never logged; only their paths are.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maestro_core.atomic import write_bytes_atomic
from maestro_core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

# Settings fields read when present (requested from the lead): MAESTRO_SIGNING_CERT_PATH, MAESTRO_SIGNING_KEY_PATH,
# MAESTRO_TRUST_ANCHOR_PATH. Until they exist the defaults under $MAESTRO_HOME/keys apply.
CERT_SETTING, KEY_SETTING, ANCHOR_SETTING = "signing_cert_path", "signing_key_path", "trust_anchor_path"
# The common name of the CA that `maestro init` / `maestro keys init` create: it marks development keys.
DEVELOPMENT_CA_NAME = "Maestro Development CA"


@dataclass(frozen=True)
class KeyConfig:
    """Paths of the signing chain (PEM: leaf then CA), its private key (PEM) and the trust anchor (CA PEM)."""

    cert_path: Path
    key_path: Path
    trust_anchor_path: Path

    @classmethod
    def from_settings(cls, settings: Any) -> KeyConfig:
        """Explicit settings when set, else ``<home>/keys/signer.pem``, ``signer.key`` and ``ca.pem``."""
        keys_dir = default_keys_dir(settings)
        return cls(cert_path=Path(getattr(settings, CERT_SETTING, None) or keys_dir / "signer.pem"),
                   key_path=Path(getattr(settings, KEY_SETTING, None) or keys_dir / "signer.key"),
                   trust_anchor_path=Path(getattr(settings, ANCHOR_SETTING, None) or keys_dir / "ca.pem"))

    def read_signing_material(self) -> tuple[bytes, bytes]:
        """(certificate chain PEM, private key PEM), both checked to parse and to belong together.

        Raises:
            ConfigError: naming MAESTRO_SIGNING_CERT_PATH or MAESTRO_SIGNING_KEY_PATH when missing or unreadable.
        """
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert_pem = _read(self.cert_path, "MAESTRO_SIGNING_CERT_PATH")
        key_pem = _read(self.key_path, "MAESTRO_SIGNING_KEY_PATH")
        try:
            chain = x509.load_pem_x509_certificates(cert_pem)
        except ValueError:
            raise ConfigError("MAESTRO_SIGNING_CERT_PATH", f"{self.cert_path} holds no PEM certificate",
                              "a PEM certificate chain, signing certificate first") from None
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError("MAESTRO_SIGNING_KEY_PATH", f"{self.key_path} is not an unencrypted PEM private key",
                              "a PEM (PKCS#8) EC P-256 private key, e.g. from `maestro keys init`") from None
        if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
                != chain[0].public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ConfigError("MAESTRO_SIGNING_KEY_PATH", f"{self.key_path} does not match the certificate in "
                              f"{self.cert_path}", "the private key of the signing certificate")
        return cert_pem, key_pem

    def is_development(self) -> bool:
        """True when the signing certificate was issued by a development CA of ``init_keys`` (never for production
        keys); provenance records it, so a track signed with development keys says so.
        """
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:
            leaf = x509.load_pem_x509_certificates(self.cert_path.read_bytes())[0]
        except (OSError, ValueError, IndexError):
            return False
        return any(a.value == DEVELOPMENT_CA_NAME for a in leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME))

    def read_trust_anchor(self) -> str:
        """The trust anchor PEM text. Raises ConfigError naming MAESTRO_TRUST_ANCHOR_PATH."""
        from cryptography import x509

        pem = _read(self.trust_anchor_path, "MAESTRO_TRUST_ANCHOR_PATH")
        try:
            x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise ConfigError("MAESTRO_TRUST_ANCHOR_PATH", f"{self.trust_anchor_path} holds no PEM certificate",
                              "the PEM certificate of the CA that issued the signing certificate") from None
        return pem.decode()


def default_keys_dir(settings: Any) -> Path:
    return Path(settings.home) / "keys"


def init_keys(keys_dir: Path, *, force: bool = False, organization: str = "Maestro (development)",
              days: int = 825) -> KeyConfig:
    """Creates a development CA and a signing certificate issued by it, for C2PA (ES256, P-256).

    Args:
        keys_dir: where to write (created with mode 0700).
        force: replace existing keys; otherwise existing keys are refused.
        organization: the O= of both certificates.
        days: validity of the signing certificate (days); the CA lasts ten years.

    Raises:
        InputError: naming ``keys_dir`` when keys already exist and ``force`` is False.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    keys_dir = Path(keys_dir)
    paths = KeyConfig(keys_dir / "signer.pem", keys_dir / "signer.key", keys_dir / "ca.pem")
    existing = [p for p in (paths.cert_path, paths.key_path, paths.trust_anchor_path, keys_dir / "ca.key")
                if p.exists()]
    if existing and not force:
        raise InputError("keys_dir", f"{keys_dir} already holds keys ({', '.join(p.name for p in existing)}); "
                                     "pass --force to replace them")
    try:
        keys_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (keys_dir, *keys_dir.parents) if p.exists()), keys_dir)
        problem = f"{blocker} is a file, not a directory" if not blocker.is_dir() else exc.strerror or str(exc)
        raise InputError("keys_dir", f"cannot create {keys_dir}: {problem}") from None
    os.chmod(keys_dir, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEVELOPMENT_CA_NAME),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(sign=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Maestro Content Signer"),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign=True), critical=True)
            # C2PA accepts emailProtection (among a few) as the signer's extended key usage.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def private(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    _write(keys_dir / "ca.key", private(ca_key), 0o600)
    _write(paths.key_path, private(leaf_key), 0o600)
    _write(paths.trust_anchor_path, pem(ca), 0o644)
    _write(paths.cert_path, pem(leaf) + pem(ca), 0o644)
    log.info("created development CA and signing certificate in %s", keys_dir)
    return paths


def ensure_development_keys(settings: Any) -> KeyConfig | None:
    """On a home with no signing keys and none configured, creates development keys under ``$MAESTRO_HOME/keys``.

    Returns the new keys' paths, or None when nothing was created: keys are configured (production keys are
    never invented: a configured path that is missing fails the run's preflight instead), or keys already exist.
    """
    if getattr(settings, CERT_SETTING, None) or getattr(settings, KEY_SETTING, None):
        return None
    config = KeyConfig.from_settings(settings)
    keys_dir = default_keys_dir(settings)
    if any(p.exists() for p in (config.cert_path, config.key_path, config.trust_anchor_path, keys_dir / "ca.key")):
        return None
    return init_keys(keys_dir)


def _key_usage(sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                         encipher_only=False, decipher_only=False)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes atomically with ``mode`` set before any byte lands (the temp file is created 0600)."""
    write_bytes_atomic(path, data, mode)


def _read(path: Path, setting: str) -> bytes:
    if not path.exists():
        raise ConfigError(setting, f"{path} does not exist", "a readable PEM file; `maestro keys init` creates "
                                                             "development keys under $MAESTRO_HOME/keys")
    if not path.is_file():
        raise ConfigError(setting, f"{path} is not a regular file", "a readable PEM file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {path}: {exc.strerror}", "a readable PEM file") from None
