"""The delivered audio file: the stored signed WAV, losslessly re-encoded to the delivery format.

FLAC keeps the samples exactly (16-bit stays 16-bit, 24-bit stays 24-bit; float WAV becomes 24-bit), so the
delivered file's PCM hash (:func:`maestro_core.provenance.audio_sha256`) equals TRACKS.SHA256 for integer PCM.
Re-encoding drops the WAV's C2PA manifest (it lives in the WAV container); ``wav`` delivers the signed bytes as
stored. libsndfile's FLAC encoder is deterministic, so the same WAV always gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from maestro_core.errors import InputError

FORMATS = ("flac", "wav")
_BITS = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64, "PCM_U8": 8, "PCM_S8": 8}
_FLAC_SUBTYPES = {"PCM_16": ("PCM_16", "int16"), "PCM_S8": ("PCM_S8", "int16"), "PCM_U8": ("PCM_S8", "int16")}


@dataclass(frozen=True)
class EncodedAudio:
    """Bytes of the file to deliver and its technical facts (channels, rate in Hz, bits per sample)."""

    data: bytes
    audio_format: str
    channels: int
    sample_rate_hz: int
    bits_per_sample: int


def encode_for_delivery(wav: bytes, audio_format: str) -> EncodedAudio:
    """The delivered file for a stored WAV: FLAC re-encoded losslessly, or the WAV bytes unchanged.

    Raises:
        InputError: naming ``delivery_format`` for an unknown format, or ``audio`` when the bytes are not audio.
    """
    import soundfile as sf

    if audio_format not in FORMATS:
        raise InputError("delivery_format", f"{audio_format!r} is not one of {', '.join(FORMATS)}")
    try:
        info = sf.info(io.BytesIO(wav))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise InputError("audio", f"the stored audio cannot be read: {exc}") from None
    if audio_format == "wav":
        return EncodedAudio(wav, "wav", info.channels, info.samplerate, _BITS.get(info.subtype, 16))
    subtype, dtype = _FLAC_SUBTYPES.get(info.subtype, ("PCM_24", "int32"))
    data, rate = sf.read(io.BytesIO(wav), dtype=dtype, always_2d=True)
    out = io.BytesIO()
    sf.write(out, data, rate, format="FLAC", subtype=subtype)
    return EncodedAudio(out.getvalue(), "flac", info.channels, info.samplerate, _BITS[subtype])
