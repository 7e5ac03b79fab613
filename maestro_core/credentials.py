"""Content Credentials (C2PA) for delivered audio: embed a signed manifest, and read one back with validation.

Uses ``c2pa-python`` (0.38, c2pa-rs 0.91). Both WAV (``audio/wav``) and FLAC (``audio/flac``) are signed and read.
The manifest carries:

* ``c2pa.actions``: one ``c2pa.created`` action, ``digitalSourceType`` = IPTC ``trainedAlgorithmicMedia``,
  ``softwareAgent`` = the engine (name, version);
* ``org.maestro.track``: ``track_id``, ``isrc``, ``provenance_sha256`` (and the request id when known).

Trust: c2pa-rs reports ``Valid`` for a correctly signed manifest whose certificate it cannot chain to a trust
anchor (``signingCredential.untrusted``), and ``Trusted`` once the issuing CA is given as anchor. Readers here set
the settings ``trust.trust_anchors`` to the configured CA and ``verify.verify_trust`` to true, so only ``Trusted``
counts as verified.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from maestro_core.atomic import atomic_path
from maestro_core.errors import InputError, MaestroError
from maestro_core.signing_keys import KeyConfig

log = logging.getLogger(__name__)

TRACK_ASSERTION = "org.maestro.track"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MIME_BY_SUFFIX = {".wav": "audio/wav", ".wave": "audio/wav", ".flac": "audio/flac"}


class SigningError(MaestroError):
    """The C2PA SDK refused to sign a file; nothing was written."""


@dataclass(frozen=True)
class ManifestFields:
    """What a track's manifest states. ``isrc`` is the 12-character form; the hash is hex sha256."""

    track_id: str
    isrc: str
    provenance_sha256: str
    engine: str
    engine_version: str
    title: str = ""
    request_id: str | None = None

    def manifest(self, mime: str) -> dict[str, Any]:
        from maestro_core.provenance import package_version

        track: dict[str, Any] = {"track_id": self.track_id, "isrc": self.isrc,
                                 "provenance_sha256": self.provenance_sha256}
        if self.request_id:
            track["request_id"] = self.request_id
        return {
            "claim_generator_info": [{"name": "Maestro", "version": package_version()}],
            "title": self.title or self.track_id,
            "format": mime,
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created",
                    "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                    "softwareAgent": {"name": self.engine, "version": self.engine_version},
                }]}},
                {"label": TRACK_ASSERTION, "data": track},
            ],
        }


@dataclass(frozen=True)
class Credentials:
    """What a reader found in a file.

    Attributes:
        present: a readable C2PA manifest is embedded.
        state: c2pa's validation state: ``Trusted``, ``Valid`` (signature fine, signer not trusted) or ``Invalid``.
        track: the ``org.maestro.track`` assertion's data, if any.
        actions: the ``c2pa.actions`` assertion's actions.
        failures: (code, explanation) pairs c2pa reported, e.g. ``assertion.dataHash.mismatch``.
        signer: the signing certificate's common name and issuer.
        error: why the file could not be read (empty, truncated, not parseable); ``present`` is then False.
    """

    present: bool
    state: str | None = None
    track: Mapping[str, Any] | None = None
    actions: tuple[Mapping[str, Any], ...] = ()
    failures: tuple[tuple[str, str], ...] = ()
    signer: Mapping[str, Any] | None = None
    error: str | None = None

    @property
    def trusted(self) -> bool:
        return self.present and self.state == "Trusted" and not self.failures


def mime_type(path: str | Path) -> str:
    """The MIME type the SDK needs, from the file suffix. Raises InputError for unsupported formats."""
    suffix = Path(path).suffix.lower()
    if suffix not in MIME_BY_SUFFIX:
        raise InputError("audio_path", f"{Path(path).name}: Content Credentials are embedded in WAV and FLAC only, "
                                       f"not {suffix or 'files without a suffix'}")
    return MIME_BY_SUFFIX[suffix]


def existing_audio_file(path: str | Path) -> Path:
    """``path`` when it is an existing regular file; InputError naming ``audio_path`` otherwise."""
    path = Path(path)
    if path.is_dir():
        raise InputError("audio_path", f"{path} is a directory, not a WAV or FLAC file")
    if not path.is_file():
        raise InputError("audio_path", f"{path} does not exist" if not path.exists()
                         else f"{path} is not a regular file")
    return path


def sign_audio(path: str | Path, manifest_fields: ManifestFields, key_config: KeyConfig,
               dest: str | Path | None = None) -> Path:
    """Embeds a signed C2PA manifest in a WAV or FLAC file.

    The signed file is written to a temporary file beside the destination and renamed into place, so a failure
    leaves the original untouched. Signing does not change the PCM samples, so
    :func:`maestro_core.provenance.audio_sha256` is the same before and after.

    Args:
        path: the audio to sign.
        manifest_fields: track id, ISRC, provenance hash, engine.
        key_config: signing chain, private key and trust anchor paths.
        dest: where to write; default: replace ``path``.

    Returns:
        The signed file's path.

    Raises:
        ConfigError: the signing key or certificate is missing, unreadable or mismatched (names the setting).
        InputError: the file is not WAV/FLAC or does not exist.
        SigningError: the SDK refused (message from c2pa).
    """
    path = existing_audio_file(path)
    dest = Path(dest) if dest is not None else path
    mime = mime_type(path)
    with atomic_path(dest) as tmp, open(path, "rb") as src, open(tmp, "w+b") as out:
        _sign_stream(src, out, mime, path.name, manifest_fields, key_config)
    log.info("signed %s (track %s)", dest.name, manifest_fields.track_id)
    return dest


def sign_audio_bytes(data: bytes, mime: str, manifest_fields: ManifestFields, key_config: KeyConfig,
                     name: str = "audio") -> bytes:
    """The signed bytes of an in-memory WAV or FLAC file (``mime`` from :func:`mime_type`): what
    :func:`sign_audio` writes, without the file round trip (a worker signs the track it already holds, about twice
    as fast as through files, then stores the bytes).

    Raises:
        ConfigError: the signing key or certificate is missing, unreadable or mismatched (names the setting).
        SigningError: the SDK refused (message from c2pa); ``name`` names the file in the message.
    """
    src, out = io.BytesIO(data), io.BytesIO()
    _sign_stream(src, out, mime, name, manifest_fields, key_config)
    log.info("signed %s (track %s)", name, manifest_fields.track_id)
    return out.getvalue()


def _sign_stream(src: BinaryIO, out: BinaryIO, mime: str, name: str, manifest_fields: ManifestFields,
                 key_config: KeyConfig) -> None:
    """Reads ``src``, writes it with a signed manifest embedded to ``out`` (both seekable binary streams)."""
    import c2pa

    cert_pem, key_pem = key_config.read_signing_material()
    try:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, cert_pem, key_pem, None)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest_fields.manifest(mime)) as builder:
            builder.sign(signer, mime, src, out)
    except c2pa.C2paError as exc:
        raise SigningError(f"C2PA signing of {name} failed: {exc}") from None


def read_credentials(path: str | Path, key_config: KeyConfig) -> Credentials:
    """Reads and validates the manifest of ``path`` with the configured CA as the only trust anchor.

    A file the SDK cannot parse (empty, truncated, not RIFF/FLAC) has no readable manifest: ``present`` is False
    and ``error`` says why.

    Raises:
        ConfigError: the trust anchor is missing or unreadable.
        InputError: the file does not exist, is a directory or is not WAV/FLAC.
    """
    import c2pa

    path = existing_audio_file(path)
    mime = mime_type(path)
    anchor = key_config.read_trust_anchor()
    if path.stat().st_size == 0:
        return Credentials(present=False, state="Invalid", error="the file is empty")
    settings = {"trust": {"trust_anchors": anchor}, "verify": {"verify_trust": True}}
    try:
        with c2pa.Context.from_dict(settings) as context, open(path, "rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, context)
            if reader is None:
                return Credentials(present=False)
            with reader:
                manifest = reader.get_active_manifest() or {}
                state = reader.get_validation_state()
                results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:  # the SDK could not parse the file, so it found no manifest to validate
        return Credentials(present=False, state="Invalid", error=str(exc), failures=(("c2pa.error", str(exc)),))
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions", [])}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions", [])
    failures = tuple((f.get("code", ""), f.get("explanation", ""))
                     for f in (results.get("activeManifest") or {}).get("failure", []))
    return Credentials(present=True, state=state, track=assertions.get(TRACK_ASSERTION), actions=tuple(actions),
                       failures=failures, signer=manifest.get("signature_info"))


def describe_failures(creds: Credentials) -> str:
    """One human sentence for why a manifest did not verify."""
    if not creds.present and creds.error:
        return f"no readable C2PA manifest: {creds.error}"
    if not creds.present:
        return "no C2PA manifest is embedded: it was stripped, or the file was never signed"
    codes = {code for code, _ in creds.failures}
    parts = []
    if any("dataHash.mismatch" in c or "hash.mismatch" in c for c in codes):
        parts.append("the audio file changed after signing (C2PA data hash mismatch)")
    if "signingCredential.untrusted" in codes:
        parts.append("the signing certificate is not issued by the configured trust anchor")
    if creds.error:
        parts.append(f"the manifest could not be read: {creds.error}")
    others = [f"{c}: {e}" for c, e in creds.failures if c not in ("signingCredential.untrusted",)
              and "hash.mismatch" not in c.lower() and c != "c2pa.error"]
    parts.extend(others)
    if not parts and creds.state != "Trusted":
        parts.append(f"validation state is {creds.state}, not Trusted")
    return "; ".join(parts) or "ok"


def credentials_json(creds: Credentials) -> str:
    return json.dumps({"present": creds.present, "state": creds.state, "track": creds.track,
                       "failures": [list(f) for f in creds.failures], "signer": creds.signer}, indent=2)
