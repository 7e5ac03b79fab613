"""Content Credentials: keys, signing WAV and FLAC, trust anchors, tampering, and key errors."""

from __future__ import annotations

import os
import stat

import pytest

from maestro_core.credentials import (
    TRACK_ASSERTION,
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestFields,
    describe_failures,
    mime_type,
    read_credentials,
    sign_audio,
    sign_audio_bytes,
)
from maestro_core.errors import ConfigError, InputError
from maestro_core.provenance import audio_sha256
from maestro_core.signing_keys import KeyConfig, init_keys
from tests.plugins.rights import flip_one_sample, write_sine_wav

FIELDS = ManifestFields("6f1c0c3e-0000-5000-8000-000000000001", "ZZMAE2600001", "ab" * 32, "composer", "0.1.0",
                        title="Rainy city")


def test_keys_init_writes_private_keys_0600_in_a_0700_dir_and_refuses_to_overwrite(tmp_path):
    keys = init_keys(tmp_path / "keys")
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    for private in (keys.key_path, tmp_path / "keys" / "ca.key"):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert keys.cert_path.read_text().count("BEGIN CERTIFICATE") == 2  # leaf, then CA
    with pytest.raises(InputError, match="--force"):
        init_keys(tmp_path / "keys")
    before = keys.key_path.read_bytes()
    init_keys(tmp_path / "keys", force=True)
    assert keys.key_path.read_bytes() != before


def test_keys_default_to_maestro_home(rights_settings):
    keys = KeyConfig.from_settings(rights_settings)
    assert keys.key_path == rights_settings.home / "keys" / "signer.key"
    assert keys.trust_anchor_path == rights_settings.home / "keys" / "ca.pem"


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_signed_audio_is_trusted_with_our_ca_and_carries_the_maestro_assertions(tmp_path, signing_keys, suffix):
    audio = write_sine_wav(tmp_path / f"t{suffix}", seconds=0.5)
    pcm = audio_sha256(audio)
    sign_audio(audio, FIELDS, signing_keys)
    creds = read_credentials(audio, signing_keys)
    assert creds.present and creds.state == "Trusted" and creds.trusted, creds.failures
    assert dict(creds.track) == {"track_id": FIELDS.track_id, "isrc": "ZZMAE2600001", "provenance_sha256": "ab" * 32}
    (action,) = creds.actions
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert action["softwareAgent"] == {"name": "composer", "version": "0.1.0"}
    assert audio_sha256(audio) == pcm  # the manifest does not touch the samples
    assert TRACK_ASSERTION == "org.maestro.track"


def test_signature_from_another_ca_is_valid_but_not_trusted(tmp_path, signing_keys):
    other = init_keys(tmp_path / "other")
    audio = sign_audio(write_sine_wav(tmp_path / "t.wav", seconds=0.2), FIELDS, other)
    creds = read_credentials(audio, signing_keys)
    assert creds.state == "Valid" and not creds.trusted
    assert "not issued by the configured trust anchor" in describe_failures(creds)


def test_changing_one_sample_after_signing_breaks_the_signature(tmp_path, signing_keys):
    audio = sign_audio(write_sine_wav(tmp_path / "t.wav", seconds=0.2), FIELDS, signing_keys)
    flip_one_sample(audio)
    creds = read_credentials(audio, signing_keys)
    assert creds.present and not creds.trusted and creds.state == "Invalid"
    assert "changed after signing" in describe_failures(creds)
    assert any("dataHash.mismatch" in code for code, _ in creds.failures)


def test_unsigned_file_has_no_credentials(tmp_path, signing_keys):
    creds = read_credentials(write_sine_wav(tmp_path / "t.wav", seconds=0.1), signing_keys)
    assert not creds.present and "stripped" in describe_failures(creds)


def test_missing_signing_key_names_the_setting_and_leaves_the_file_alone(tmp_path, signing_keys):
    audio = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    before = audio.read_bytes()
    keys = KeyConfig(signing_keys.cert_path, tmp_path / "nope.key", signing_keys.trust_anchor_path)
    with pytest.raises(ConfigError) as err:
        sign_audio(audio, FIELDS, keys)
    assert err.value.field == "MAESTRO_SIGNING_KEY_PATH" and "does not exist" in str(err.value)
    assert audio.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["t.wav"]


def test_garbled_or_mismatched_key_is_a_clear_error(tmp_path, signing_keys):
    audio = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    garbled = tmp_path / "garbled.key"
    garbled.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        sign_audio(audio, FIELDS, KeyConfig(signing_keys.cert_path, garbled, signing_keys.trust_anchor_path))
    other = init_keys(tmp_path / "other")
    with pytest.raises(ConfigError, match="does not match the certificate"):
        sign_audio(audio, FIELDS, KeyConfig(signing_keys.cert_path, other.key_path, signing_keys.trust_anchor_path))


def test_key_path_that_is_a_directory_names_the_setting(tmp_path, signing_keys):
    (tmp_path / "dir.key").mkdir()
    with pytest.raises(ConfigError, match="MAESTRO_SIGNING_KEY_PATH: .* is not a regular file"):
        KeyConfig(signing_keys.cert_path, tmp_path / "dir.key", signing_keys.trust_anchor_path).read_signing_material()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_unreadable_key_names_the_setting(tmp_path, signing_keys):
    key = tmp_path / "locked.key"
    key.write_bytes(signing_keys.key_path.read_bytes())
    key.chmod(0)
    with pytest.raises(ConfigError, match="MAESTRO_SIGNING_KEY_PATH: cannot read"):
        KeyConfig(signing_keys.cert_path, key, signing_keys.trust_anchor_path).read_signing_material()


def test_missing_trust_anchor_names_the_setting(tmp_path, signing_keys):
    audio = sign_audio(write_sine_wav(tmp_path / "t.wav", seconds=0.1), FIELDS, signing_keys)
    with pytest.raises(ConfigError) as err:
        read_credentials(audio, KeyConfig(signing_keys.cert_path, signing_keys.key_path, tmp_path / "ca.pem"))
    assert err.value.field == "MAESTRO_TRUST_ANCHOR_PATH"


def test_only_wav_and_flac_are_signed(tmp_path, signing_keys):
    mp3 = tmp_path / "t.mp3"
    mp3.write_bytes(b"ID3")
    with pytest.raises(InputError, match="WAV and FLAC only"):
        sign_audio(mp3, FIELDS, signing_keys)


def test_signing_into_a_separate_destination_keeps_the_source(tmp_path, signing_keys):
    src = write_sine_wav(tmp_path / "raw.wav", seconds=0.1)
    before = src.read_bytes()
    out = sign_audio(src, FIELDS, signing_keys, dest=tmp_path / "signed.wav")
    assert src.read_bytes() == before and read_credentials(out, signing_keys).trusted


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_signing_bytes_in_memory_gives_a_trusted_file_with_the_same_samples(tmp_path, signing_keys, suffix):
    audio = write_sine_wav(tmp_path / f"t{suffix}", seconds=0.5)
    original = audio.read_bytes()
    signed = sign_audio_bytes(original, mime_type(audio), FIELDS, signing_keys, name=audio.name)
    assert audio.read_bytes() == original  # the source file is not touched
    out = tmp_path / f"signed{suffix}"
    out.write_bytes(signed)
    creds = read_credentials(out, signing_keys)
    assert creds.trusted, creds.failures
    assert dict(creds.track)["track_id"] == FIELDS.track_id
    assert audio_sha256(out) == audio_sha256(audio)
    on_disk = sign_audio(audio, FIELDS, signing_keys, dest=tmp_path / f"file{suffix}")
    assert read_credentials(on_disk, signing_keys).track == creds.track  # the same manifest either way


def test_signing_bytes_with_a_missing_key_names_the_setting(tmp_path, signing_keys):
    audio = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    keys = KeyConfig(signing_keys.cert_path, tmp_path / "nope.key", signing_keys.trust_anchor_path)
    with pytest.raises(ConfigError) as err:
        sign_audio_bytes(audio.read_bytes(), "audio/wav", FIELDS, keys)
    assert err.value.field == "MAESTRO_SIGNING_KEY_PATH"
