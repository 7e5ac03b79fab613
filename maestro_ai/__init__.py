"""Maestro: AI music catalogs, generated and accounted for. ``MusicGenerator`` is the public generation API."""

from __future__ import annotations

from maestro_ai.generator import MusicGenerator

__all__ = ["MusicGenerator"]
