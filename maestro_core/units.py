"""Units and codes every module shares, defined once.

* Shares are integer **basis points**: a track's splits sum to exactly ``TOTAL_BPS`` (10000 = 100 %).
* Territories are ISO 3166-1 alpha-2 codes (``US``, ``DE``), or ``WW`` for worldwide: ``TERRITORY_CODE``.
"""

from __future__ import annotations

import re

TOTAL_BPS = 10_000
"""Basis points in a whole: every track's splits sum to exactly this."""

TERRITORY_CODE = re.compile(r"[A-Z]{2}")
"""A territory as licenses and prompts give it: two upper-case letters (ISO 3166-1 alpha-2, or WW)."""
