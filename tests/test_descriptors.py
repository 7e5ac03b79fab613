"""Key phrases -> musical descriptors through the real all-MiniLM-L6-v2 model (offline, CPU)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from inference import descriptors as desc
from maestro_core.errors import ConfigError, InputError

# (axis, phrase expected high, phrase expected low). None of these phrases is an anchor (checked below), so the
# tests measure how the embedding generalises, not a lookup table.
POLAR_PAIRS = [
    ("brightness", "bright sunny festival", "dark rainy night"),
    ("brightness", "sunlit white beach at noon", "gloomy cellar by candle"),
    ("energy", "aggressive pounding rave", "calm quiet meditation"),
    ("energy", "sprinting through a stadium crowd", "napping in a hammock"),
    ("density", "busy crowded orchestra", "lonely empty room"),
    ("density", "a huge choir with drums and strings", "a single flute in the desert"),
    ("mode", "joyful summer celebration", "grieving sad farewell"),
    ("mode", "happy birthday party", "tragic loss and mourning"),
    ("colour", "neon synth cyber city", "acoustic guitar by the fire"),
    ("colour", "robot factory of machines", "wooden violin in a church"),
    ("texture", "distorted gritty noise", "smooth silky velvet"),
    ("texture", "grinding rusty metal", "calm glassy lake surface"),
]


@pytest.mark.parametrize(("axis", "high", "low"), POLAR_PAIRS, ids=[f"{a}:{h}" for a, h, _ in POLAR_PAIRS])
def test_polar_phrases_land_on_the_right_side_of_each_axis(axis: str, high: str, low: str) -> None:
    high_value = getattr(desc.phrase_descriptors([high]), axis)
    low_value = getattr(desc.phrase_descriptors([low]), axis)
    assert high_value > low_value + 0.2, (axis, high_value, low_value)
    assert high_value > 0.5 > low_value, (axis, high_value, low_value)


def test_test_phrases_are_not_anchor_phrases() -> None:
    anchors = {p.lower() for axis in desc.AXES for pole in desc.anchor_phrases(axis) for p in pole}
    assert all(len(pole) >= 15 for axis in desc.AXES for pole in desc.anchor_phrases(axis))
    used = {p.lower() for _axis, high, low in POLAR_PAIRS for p in (high, low)}
    assert not used & anchors


def test_values_lie_in_unit_interval_rounded_to_four_decimals() -> None:
    result = desc.phrase_descriptors(["rainy city lights", "quiet introspection", "velvet night"])
    for value in result.to_dict().values():
        assert 0.0 <= value <= 1.0
        assert value == round(value, 4)
    assert list(result.to_dict()) == list(desc.AXES)


def test_several_phrases_blend_their_descriptors() -> None:
    dark = desc.phrase_descriptors(["dark rainy night"]).brightness
    bright = desc.phrase_descriptors(["bright sunny festival"]).brightness
    blend = desc.phrase_descriptors(["dark rainy night", "bright sunny festival"]).brightness
    assert dark < blend < bright


def test_same_phrases_give_identical_descriptors_after_cache_is_cleared() -> None:
    phrases = ["rainy city lights", "quiet introspection", "velvet night"]
    first = desc.phrase_descriptors(phrases)
    desc._phrase_scores.cache_clear()
    assert desc.phrase_descriptors(phrases) == first


def test_whitespace_variants_of_a_phrase_are_the_same_phrase() -> None:
    assert desc.phrase_descriptors(["  velvet   night "]) == desc.phrase_descriptors(["velvet night"])


def test_no_phrases_give_neutral_descriptors() -> None:
    assert desc.phrase_descriptors([]) == desc.Descriptors()
    assert set(desc.Descriptors().to_dict().values()) == {0.5}


@pytest.mark.parametrize(
    ("phrases", "field"),
    [
        (["ok", ""], "key_phrases[1]"),
        (["   "], "key_phrases[0]"),
        (["fine", "also fine", 42], "key_phrases[2]"),
        ([None], "key_phrases[0]"),
        (["x" * 501], "key_phrases[0]"),
        ("a single string", "key_phrases"),
        (None, "key_phrases"),
    ],
)
def test_bad_phrases_are_rejected_naming_the_field(phrases: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        desc.phrase_descriptors(phrases)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_missing_model_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model_path") as info:
        desc.phrase_descriptors(["velvet night"], model_path=tmp_path / "nowhere")
    assert info.value.field == "model_path"


def test_directory_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model_path"):
        desc.phrase_descriptors(["velvet night"], model_path=tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot load"):
        desc.phrase_descriptors(["velvet night"], model_path=tmp_path)


def test_any_sentence_transformers_directory_can_be_configured(tmp_path: Path) -> None:
    other = tmp_path / "my-model"  # a second model directory (files linked, not copied: 90 MB of weights)
    other.mkdir()
    for item in desc.model_path_default().iterdir():
        (other / item.name).symlink_to(item, target_is_directory=item.is_dir())
    configured = desc.phrase_descriptors(["bright sunny festival"], model_path=str(other))
    assert configured == desc.phrase_descriptors(["bright sunny festival"])
    assert desc.model_provenance(other).model_id == "my-model"


def test_provenance_names_the_bundled_model_and_hashes_its_weights() -> None:
    prov = desc.model_provenance()
    assert prov.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    weights = Path(prov.path) / prov.weights_file
    assert prov.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_importing_the_module_does_not_import_torch_or_sentence_transformers() -> None:
    code = ("import sys, inference.descriptors; "
            "assert not {'torch', 'sentence_transformers'} & set(sys.modules), 'heavy import at module load'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
