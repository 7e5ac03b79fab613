"""Benchmark: does a track sound like its genre and mood? An independent ear (musicnn) plus audio measurements.

Generates every genre preset x several moods x seeds with the composer engine (30 s tracks, FluidR3_GM unless
``--soundfont`` says otherwise), tags them with the pre-trained musicnn tagger (``../shared/tools/musicnn``, run as
a subprocess in its own venv, one model load per model per run) and reports:

* **genre hit rate**: one of the genre's tags (``GENRE_TAGS``) is among the tagger's top 3. Genres are judged
  by ``MSD_musicnn`` (Million Song Dataset tags); classical-piano and cinematic, which MSD has no tags for, by
  ``MTT_musicnn`` (MagnaTagATune: instruments and styles). Target >= 90%.
* **separability**: leave-one-out nearest centroid over the tag vectors (MSD and MTT likelihoods side by side,
  cosine distance): the share of tracks whose nearest genre centroid, computed without them, is their genre.
  Target >= 80%.
* **mood contrast**: dark against uplifting in the same genre and seed, measured on the audio: spectral centroid
  (Hz, brightness), onset density (onsets per second) and the estimated mode (major/minor, ``inference.qc``).
* **within-genre similarity** (``--full``): 50 seeds of one prompt, every pair compared by chroma (harmony over
  time, 2 s drift allowed) and MFCC (timbre, standardised over the 50) similarity; a pair is a near-duplicate
  when both reach ``NEAR_DUPLICATE``.

The tagger is a yardstick, never a dependency: without its venv the tag figures are skipped, with a message.

Usage: ``python bench/quality.py [--quick] [--full] [--seeds 2] [--first-seed 7] [--keep DIR] [--json OUT]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TAGGER = ROOT.parent / "shared" / "tools" / "musicnn" / "musicnn_tag.py"
FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TRACK_S = 30.0

# Genre -> the tagger tags that count as "recognised as this genre". One tag family per genre, written once,
# before measuring; MSD tags unless the genre is in MTT_GENRES (MSD has no classical or orchestral tags).
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "lofi-chill": ("chillout", "chill", "Hip-Hop", "Mellow"),
    "ambient": ("ambient", "chillout", "chill"),
    "house": ("House", "dance", "electronic", "electro"),
    "techno": ("electronic", "dance", "electro", "electronica"),
    "hip-hop": ("Hip-Hop", "rnb"),
    "jazz": ("jazz", "blues", "soul"),
    "cinematic": ("classical", "strings", "violin", "cello", "choir", "choral", "harp"),
    "pop": ("pop", "indie pop", "catchy"),
    "rock": ("rock", "alternative rock", "classic rock", "hard rock", "indie rock", "punk", "alternative", "metal",
             "heavy metal", "Progressive rock"),
    "synthwave": ("80s", "electronic", "electro", "electronica"),
    "folk": ("folk", "acoustic", "country"),
    "classical-piano": ("piano", "classical", "classic", "harpsichord"),
}
MTT_GENRES = ("classical-piano", "cinematic")
MOODS = ("dark", "uplifting", "melancholic", "energetic")
QUICK_MOODS = ("dark", "uplifting")
# A pair of tracks is a near-duplicate when chroma AND MFCC similarity both reach this. Checked against the
# reference pair the bench also prints: one composition rendered at two tempos 3% apart.
NEAR_DUPLICATE = 0.9


@dataclass(frozen=True)
class Track:
    """A generated track: what was asked and where its audio is."""

    genre: str
    mood: str
    seed: int
    path: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 genres x (dark, uplifting) x 1 seed")
    parser.add_argument("--full", action="store_true", help="also the 50-track within-genre similarity")
    parser.add_argument("--similarity-only", action="store_true", help="only the within-genre similarity")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per genre and mood (ignored with --quick)")
    parser.add_argument("--first-seed", type=int, default=7, help="seeds are first, first + 31, ...")
    parser.add_argument("--genres", default="", help="comma-separated subset of genres (default: all)")
    parser.add_argument("--similarity-genre", default="lofi-chill")
    parser.add_argument("--soundfont", default=FLUIDR3)
    parser.add_argument("--keep", default="", help="keep the audio in this directory")
    parser.add_argument("--json", default="", help="write every figure and tag to this file")
    args = parser.parse_args()

    from inference.composer.presets import GENRES

    genres = [g for g in args.genres.split(",") if g] or list(GENRES)
    moods = QUICK_MOODS if args.quick else MOODS
    seeds = [args.first_seed] if args.quick else [args.first_seed + 31 * i for i in range(args.seeds)]
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-quality-"))
    out.mkdir(parents=True, exist_ok=True)
    engine = _engine(args.soundfont)
    if args.similarity_only:
        similarity_report(engine, args.similarity_genre, out)
        if not args.keep:
            shutil.rmtree(out)
        return
    t0 = time.perf_counter()
    tracks, failed = [], []
    for g, m, s in ((g, m, s) for g in genres for m in moods for s in seeds):
        try:
            tracks.append(generate(engine, g, m, s, out))
        except Exception as exc:  # a failed request is a figure too: counted and named, the rest still measured
            failed.append(f"{g}/{m}/{s}: {type(exc).__name__}: {exc}")
    if failed:
        print(f"{len(failed)} requests failed to generate:\n  " + "\n  ".join(failed))
    print(f"generated {len(tracks)} tracks of {TRACK_S:g} s ({len(genres)} genres x {len(moods)} moods x "
          f"{len(seeds)} seeds) with {Path(args.soundfont).name} in {time.perf_counter() - t0:.1f} s")
    report: dict[str, Any] = {"tracks": len(tracks), "failed": failed, "soundfont": args.soundfont}
    tags = tag_all(tracks)
    if tags is not None:
        report.update(genre_report(tracks, tags))
    report["mood_contrast"] = mood_report(tracks)
    if args.full:
        report["similarity"] = similarity_report(engine, args.similarity_genre, out)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(out)


def _engine(soundfont: str) -> Any:
    from inference.composer.engine import ComposerEngine

    return ComposerEngine(soundfont_path=soundfont, preload_model=False)


def generate(engine: Any, genre: str, mood: str, seed: int, out: Path, **fields: Any) -> Track:
    """One 30 s track of ``genre``/``mood`` (no key phrases, so no text model) written under ``out``."""
    from inference.engine import GenerationRequest

    request = GenerationRequest(genre=genre, mood=mood, duration_s=TRACK_S, seed=seed, **fields)
    result = engine.generate(request, out / f"{genre}-{mood}-{seed}")
    return Track(genre, mood, seed, Path(result.audio_path))


# -- tagging -----------------------------------------------------------------------------------------------------

def tag_all(tracks: list[Track]) -> dict[str, dict[Path, dict[str, float]]] | None:
    """{model: {path: {tag: likelihood}}} for MSD_musicnn and MTT_musicnn over every track; None without the
    tagger (a message says why)."""
    if not TAGGER.is_file():
        print(f"tag figures skipped: no tagger at {TAGGER}")
        return None
    out: dict[str, dict[Path, dict[str, float]]] = {}
    for model in ("MSD_musicnn", "MTT_musicnn"):
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "tags.json"
            command = [sys.executable, str(TAGGER), "--model", model, "--top", "3", "--json", str(target),
                       *(str(t.path) for t in tracks)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not target.is_file():
                print(f"tag figures skipped: the tagger failed ({model}): {done.stderr.strip()[-400:]}")
                return None
            raw = json.loads(target.read_text())
        out[model] = {Path(p).resolve(): {k: float(v) for k, v in scores.items()} for p, scores in raw.items()}
        print(f"tagged {len(tracks)} tracks with {model} in {time.perf_counter() - t0:.1f} s")
    return out


def top_tags(scores: dict[str, float], n: int = 3) -> list[str]:
    return [t for t, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def genre_report(tracks: list[Track], tags: dict[str, dict[Path, dict[str, float]]]) -> dict[str, Any]:
    """Hit rate per genre and overall, and leave-one-out nearest-centroid separability; printed and returned."""
    msd, mtt = tags["MSD_musicnn"], tags["MTT_musicnn"]
    names_msd, names_mtt = sorted(next(iter(msd.values()))), sorted(next(iter(mtt.values())))
    hits: dict[str, list[bool]] = {}
    rows = []
    vectors = []
    for t in tracks:
        key = t.path.resolve()
        scores = mtt[key] if t.genre in MTT_GENRES else msd[key]
        top = top_tags(scores)
        hit = any(tag in GENRE_TAGS[t.genre] for tag in top)
        hits.setdefault(t.genre, []).append(hit)
        rows.append({"genre": t.genre, "mood": t.mood, "seed": t.seed, "top3": top, "hit": hit,
                     "msd_top3": top_tags(msd[key]), "mtt_top3": top_tags(mtt[key])})
        vectors.append([msd[key][n] for n in names_msd] + [mtt[key][n] for n in names_mtt])
    labels = [t.genre for t in tracks]
    separable = nearest_centroid_loo(np.asarray(vectors), labels)
    total = sum(sum(v) for v in hits.values())
    print(f"\ngenre hit (a genre tag in the top 3; MSD, MTT for {', '.join(MTT_GENRES)}): "
          f"{total}/{len(tracks)} = {total / len(tracks):.0%} (target >= 90%)")
    for genre, v in hits.items():
        misses = [f"{r['mood']}/{r['seed']}: {', '.join(r['top3'])}" for r in rows if r["genre"] == genre
                  and not r["hit"]]
        print(f"  {genre:<16}{sum(v)}/{len(v)}" + (f"   misses: {'; '.join(misses)}" if misses else ""))
    right = sum(separable)
    print(f"separability (leave-one-out nearest centroid, MSD+MTT tag vectors, cosine): {right}/{len(tracks)} = "
          f"{right / len(tracks):.0%} (target >= 80%)")
    return {"genre_hit_rate": total / len(tracks), "separability": right / len(tracks),
            "per_genre_hits": {g: sum(v) / len(v) for g, v in hits.items()}, "rows": rows}


def nearest_centroid_loo(vectors: np.ndarray, labels: list[str]) -> list[bool]:
    """For each vector: is the nearest (cosine) class centroid, computed without that vector, its own class?"""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    classes = sorted(set(labels))
    idx = {c: [i for i, label in enumerate(labels) if label == c] for c in classes}
    sums = {c: unit[idx[c]].sum(axis=0) for c in classes}
    out = []
    for i, label in enumerate(labels):
        best, best_sim = None, -2.0
        for c in classes:
            n = len(idx[c]) - (c == label)
            if n == 0:
                continue
            centroid = (sums[c] - (unit[i] if c == label else 0)) / n
            sim = float(centroid @ unit[i] / max(np.linalg.norm(centroid), 1e-12))
            if sim > best_sim:
                best, best_sim = c, sim
        out.append(best == label)
    return out


# -- audio measurements ------------------------------------------------------------------------------------------

def audio_features(path: Path) -> dict[str, float | str]:
    """Spectral centroid (Hz, mean over frames), onset density (onsets per second) and the estimated mode."""
    import librosa

    from inference.qc import measure

    y, sr = librosa.load(str(path), sr=22050, mono=True)
    centroid = float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr)))
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time")
    key = measure(path).key or "unknown"
    return {"centroid_hz": centroid, "onsets_per_s": len(onsets) / (len(y) / sr), "mode": key.split()[-1]}


def mood_report(tracks: list[Track]) -> dict[str, Any]:
    """Dark vs uplifting per genre and seed: centroid, onset density and mode, and how often each differs."""
    pairs = {}
    for t in tracks:
        if t.mood in ("dark", "uplifting"):
            pairs.setdefault((t.genre, t.seed), {})[t.mood] = audio_features(t.path)
    rows = []
    print("\nmood contrast, dark vs uplifting (same genre, same seed), measured on the audio:")
    print(f"  {'genre':<16}{'centroid Hz':>22}{'onsets/s':>16}   mode")
    for (genre, seed), both in sorted(pairs.items()):
        if len(both) < 2:
            continue
        d, u = both["dark"], both["uplifting"]
        rows.append({"genre": genre, "seed": seed, "dark": d, "uplifting": u})
        print(f"  {genre:<16}{d['centroid_hz']:>10.0f} -> {u['centroid_hz']:<8.0f}"
              f"{d['onsets_per_s']:>8.2f} -> {u['onsets_per_s']:<6.2f} {d['mode']} -> {u['mode']}")
    if not rows:
        return {}
    brighter = sum(r["uplifting"]["centroid_hz"] > 1.1 * r["dark"]["centroid_hz"] for r in rows)
    denser = sum(r["uplifting"]["onsets_per_s"] > 1.1 * r["dark"]["onsets_per_s"] for r in rows)
    modes = sum(r["dark"]["mode"] == "minor" and r["uplifting"]["mode"] == "major" for r in rows)
    ratio_c = float(np.median([r["uplifting"]["centroid_hz"] / r["dark"]["centroid_hz"] for r in rows]))
    ratio_o = float(np.median([r["uplifting"]["onsets_per_s"] / max(r["dark"]["onsets_per_s"], 1e-6) for r in rows]))
    print(f"  uplifting brighter by > 10%: {brighter}/{len(rows)} (median ratio {ratio_c:.2f}); denser by > 10%: "
          f"{denser}/{len(rows)} (median ratio {ratio_o:.2f}); dark minor and uplifting major: {modes}/{len(rows)}")
    return {"pairs": rows, "brighter": brighter / len(rows), "denser": denser / len(rows),
            "mode_flip": modes / len(rows), "median_centroid_ratio": ratio_c, "median_onset_ratio": ratio_o}


def similarity_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(chroma over time: 2 frames a second, each frame mean-removed and unit length, shape (frames, 12);
    MFCC 1..19 mean and std over the track, shape (38,))."""
    import librosa

    y, sr = librosa.load(str(path), sr=22050, mono=True)
    hop = 2048
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop)
    per = max(1, int(round(sr / hop / 2)))
    frames = chroma.shape[1] // per * per
    chroma = chroma[:, :frames].reshape(12, -1, per).mean(axis=2).T
    chroma = chroma - chroma.mean(axis=1, keepdims=True)  # the chord's shape, not its loudness
    chroma /= np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-9)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, hop_length=hop)[1:]
    return chroma, np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


def chroma_similarity(a: np.ndarray, b: np.ndarray, lag: int = 4) -> float:
    """Mean over ``a``'s frames of the best cosine with ``b``'s frames within ``lag`` frames (2 s): the same
    harmony at the same place, tolerating small tempo drift. 1 = same chords throughout."""
    n = min(len(a), len(b))
    sims = a[:n] @ b[:n].T
    i, j = np.indices(sims.shape)
    sims[np.abs(i - j) > lag] = -1.0
    return float(sims.max(axis=1).mean())


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def similarity_report(engine: Any, genre: str, out: Path, count: int = 50) -> dict[str, Any]:
    """50 seeds of one prompt (``genre``, mood uplifting): pairwise chroma and MFCC similarity, near-duplicates.

    MFCC vectors are standardised per coefficient over the 50 tracks (and the reference pair with the same
    statistics), so their cosine compares timbre against the catalogue's own spread.
    """
    t0 = time.perf_counter()
    sim_dir = out / "similarity"
    tracks = [generate(engine, genre, "uplifting", 1000 + i, sim_dir) for i in range(count)]
    # Reference: one composition at two tempos 3% apart, a near-duplicate by construction.
    ref_a = generate(engine, genre, "uplifting", 1000, sim_dir / "ref", tempo_bpm=100.0)
    ref_b = generate(engine, genre, "uplifting", 1000, sim_dir / "ref", tempo_bpm=103.0)
    feats = [similarity_features(t.path) for t in [*tracks, ref_a, ref_b]]
    mfccs = np.array([f[1] for f in feats])
    mean, std = mfccs[:count].mean(axis=0), mfccs[:count].std(axis=0) + 1e-9
    z = (mfccs - mean) / std
    upper = np.triu_indices(count, 1)
    chroma = np.array([chroma_similarity(feats[i][0], feats[j][0]) for i, j in zip(*upper, strict=True)])
    mfcc = np.array([_cos(z[i], z[j]) for i, j in zip(*upper, strict=True)])
    dupes = [(1000 + int(i), 1000 + int(j)) for i, j, c, m in zip(*upper, chroma, mfcc, strict=True)
             if c >= NEAR_DUPLICATE and m >= NEAR_DUPLICATE]
    ref = (chroma_similarity(feats[count][0], feats[count + 1][0]), _cos(z[count], z[count + 1]))
    print(f"\nwithin-genre similarity: {count} tracks of {genre}/uplifting (seeds 1000..{999 + count}), "
          f"{len(chroma)} pairs, {time.perf_counter() - t0:.0f} s")
    print(f"  chroma similarity: mean {chroma.mean():.3f}, max {chroma.max():.3f}; MFCC cosine (standardised): "
          f"mean {mfcc.mean():.3f}, max {mfcc.max():.3f}")
    print(f"  near-duplicates (chroma and MFCC >= {NEAR_DUPLICATE}): {len(dupes)} {dupes[:5]}; reference pair "
          f"(same seed, 100 vs 103 BPM): chroma {ref[0]:.3f}, MFCC {ref[1]:.3f}")
    return {"genre": genre, "count": count, "chroma_mean": float(chroma.mean()), "chroma_max": float(chroma.max()),
            "mfcc_mean": float(mfcc.mean()), "mfcc_max": float(mfcc.max()), "near_duplicates": len(dupes),
            "threshold": NEAR_DUPLICATE, "reference_pair": ref}


if __name__ == "__main__":
    main()
