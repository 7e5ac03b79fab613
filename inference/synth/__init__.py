"""Maestro's own synthesis: per-genre drum kits and subtractive synth voices (numpy + numba, deterministic by seed).

Public API (audio is float32, channels first, shape ``(2, round(duration_s * sr))``):

- ``render_drums(kit, hits, duration_s, sr, seed)``: ``hits`` are ``(time_s, instrument, velocity 1..127)``;
  ``KITS[kit]`` lists the instruments a kit has ("kick", "snare", "clap", "hat_closed", "hat_open", "rim",
  "tom_low", "tom_high", "crash", "ride", "brush_snare", "brush_swish"). Kits: "808" (hip-hop/trap), "909"
  (house/techno), "lofi" (dusty boom-bap), "gated" (synthwave, gated-reverb snare), "brushes" (jazz),
  "acoustic" (pop/rock/folk).
- ``render_voice(patch, notes, duration_s, sr, seed)``: ``notes`` are ``(start_s, length_s, midi_pitch,
  velocity)``; release tails ring past ``length_s``. ``PATCHES`` maps names to ``SynthPatch``:
  - bass: "saw_bass", "sub_bass", "acid_bass" (303-style; velocity >= 100 is an accent; a note that starts
    while the previous one is still held slides into its pitch), "reese_bass", "boom_808" (a tuned 808 bass
    with the drum's pitch drop, for hip-hop/trap; it slides on ties too);
  - leads: "square_lead", "saw_lead";
  - pads: "supersaw_pad", "warm_pad" (slow attack, wide), "synth_brass" (80s poly brass swell);
  - short: "pluck_arp", "chord_stab".
  Bass and lead patches play one voice like a monosynth (a note stops when a later one starts; notes sharing an
  onset sound together; poly patches cut a ringing note only when its pitch is struck again); bass is centred
  (L == R); pads, stabs and leads are spread by their unison voices.

All kits have kick, snare, hat_closed, hat_open, rim, tom_low, tom_high, crash and ride; all but "brushes" have
a clap; only "brushes" has brush_snare and brush_swish. Open hats are choked by the next hat, the 808's kick by
the next kick.

Levels: one hit / note at velocity 127 peaks below 1.0; parts are not normalised (the mix and the master set
loudness). Bad arguments raise ``ValueError`` naming the field. The same arguments give byte-identical audio;
different seeds give different noise, phases and detune. The first call in a process loads (or, once per
install, compiles) the numba kernels; ``bench/synth.py`` states both costs.
"""

from __future__ import annotations

from inference.synth.drums import KITS, render_drums
from inference.synth.voices import PATCHES, SynthPatch, render_voice

__all__ = ["KITS", "PATCHES", "SynthPatch", "render_drums", "render_voice"]
