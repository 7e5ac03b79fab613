"""Tiny random-initialised checkpoints with the real classes, for tests and for smoke-testing a GPU node.

``write_tiny_musicgen(dir)`` writes what ``MusicgenForConditionalGeneration.from_pretrained(dir)`` and
``AutoProcessor.from_pretrained(dir)`` read (config, safetensors weights, a T5 tokenizer built offline and the
EnCodec feature extractor), with MusicGen-small's *shape* (32 kHz EnCodec at 50 frames/s, 4 codebooks, delay
pattern, T5 text encoder) but a few layers and small widths. Its audio is noise: it exercises the mechanics
(loading, batching, seeds, windows), not music. ``write_test_model(engine, dir)`` dispatches by engine name.

Usage::

    maestro engines make-test-model musicgen /models/musicgen-tiny
    MAESTRO_MUSICGEN_MODEL=/models/musicgen-tiny maestro generate --engine musicgen ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maestro_core.errors import InputError

WORDS = ("track", "mood", "bpm", "in", "major", "minor", "lofi", "chill", "house", "ambient", "energetic",
         "relaxed", "piano", "guitar", "drums", "bass", "flute", "lead", "rain", "night", "city", "warm", "bright")
"""The tiny tokenizer's vocabulary (anything else maps to ``<unk>``; the model is random anyway)."""

MELODY_FEATURES = {"feature_extractor_type": "MusicgenMelodyFeatureExtractor", "processor_class":
                   "MusicgenMelodyProcessor", "feature_size": 12, "sampling_rate": 32000, "hop_length": 4096,
                   "chunk_length": 30, "n_fft": 16384, "num_chroma": 12, "padding_value": 0.0,
                   "return_attention_mask": False, "padding_side": "right", "stem_indices": [3, 2]}
"""MusicGen-Melody's feature-extractor settings, as its released checkpoints store them."""


def write_test_model(engine: str, model_dir: str | Path) -> Path:
    """Write the tiny test checkpoint for ``engine`` (``musicgen``, ``musicgen-melody`` or ``stable-audio``).

    Raises:
        InputError: naming ``engine`` when it has no test model.
    """
    if engine == "musicgen":
        return write_tiny_musicgen(model_dir)
    if engine == "musicgen-melody":
        return write_tiny_musicgen(model_dir, melody=True)
    if engine == "stable-audio":
        from inference.neural.stable_audio import write_tiny_stable_audio

        return write_tiny_stable_audio(model_dir)
    raise InputError("engine", f"no test model for {engine!r} (accepted: musicgen, musicgen-melody, stable-audio)")


def write_tiny_musicgen(model_dir: str | Path, melody: bool = False, seed: int = 0, stereo: bool = False) -> Path:
    """Save a tiny random MusicGen (or MusicGen-Melody) with its processor files to ``model_dir``.

    Args:
        model_dir: the directory to write (created; existing files of the same names are replaced).
        melody: write ``MusicgenMelodyForConditionalGeneration`` (chroma-conditioned) instead.
        seed: torch seed for the random weights (the same seed writes the same weights).
        stereo: two audio channels (as musicgen-stereo-*: the mono codec per channel, codebooks interleaved).

    Returns:
        The directory, resolved.
    """
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        T5Config,
    )

    out = Path(model_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_t5_tokenizer()
    text = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1,
                    num_heads=2, relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id)
    # MusicGen-small's codec shape: 32 kHz, hop 640 (50 frames/s), 4 codebooks (1.2 kbps, 64 codes), narrow.
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, target_bandwidths=[1.2], num_filters=4,
                          hidden_size=16, codebook_size=64, codebook_dim=16, num_lstm_layers=1,
                          upsampling_ratios=[8, 5, 4, 4], normalize=False, use_causal_conv=False)
    torch.manual_seed(seed)
    channels = 2 if stereo else 1
    decoder_kwargs: dict[str, Any] = {"vocab_size": codec.codebook_size, "hidden_size": 16, "num_hidden_layers": 2,
                                      "num_attention_heads": 2, "ffn_dim": 32,
                                      "num_codebooks": codec.num_quantizers * channels,
                                      "max_position_embeddings": 2048, "pad_token_id": codec.codebook_size,
                                      "bos_token_id": codec.codebook_size, "audio_channels": channels}
    if melody:
        from transformers import (
            MusicgenMelodyConfig,
            MusicgenMelodyDecoderConfig,
            MusicgenMelodyForConditionalGeneration,
        )

        config: Any = MusicgenMelodyConfig(text_encoder=text, audio_encoder=codec,
                                      decoder=MusicgenMelodyDecoderConfig(**decoder_kwargs), num_chroma=12)
        model: Any = MusicgenMelodyForConditionalGeneration(config)
        processor: Any = None  # MusicgenMelodyFeatureExtractor needs torchaudio: its config is written by hand below
    else:
        from transformers import (
            MusicgenConfig,
            MusicgenDecoderConfig,
            MusicgenForConditionalGeneration,
            MusicgenProcessor,
        )

        config = MusicgenConfig(text_encoder=text, audio_encoder=codec,
                                decoder=MusicgenDecoderConfig(**decoder_kwargs))
        model = MusicgenForConditionalGeneration(config)
        processor = MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer)
    with torch.no_grad():  # EnCodec codebooks start at zero (k-means fills them): all codes would decode alike
        for param in model.decoder.parameters():  # std 0.02 leaves logits flat: prompts would not matter
            if param.dim() >= 2:
                param.normal_(0.0, 0.3)
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.copy_(torch.randn_like(layer.codebook.embed))
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    gen = model.generation_config
    gen.decoder_start_token_id = codec.codebook_size
    gen.pad_token_id = codec.codebook_size
    gen.do_sample, gen.guidance_scale, gen.top_k, gen.max_length = True, 3.0, 50, 1500
    model.save_pretrained(out)
    if processor is not None:
        processor.save_pretrained(out)
    else:
        tokenizer.save_pretrained(out)
        (out / "preprocessor_config.json").write_text(json.dumps(MELODY_FEATURES, indent=2))
    return out


def tiny_t5_tokenizer() -> Any:
    """A T5 tokenizer (SentencePiece-style Unigram) over ``WORDS``, built offline with no hub download."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{w}", -1.0 - i / 100) for i, w in enumerate(WORDS)]
    vocab += [(str(d), -5.0) for d in "0123456789"]
    return T5Tokenizer(vocab=vocab, extra_ids=0)
