"""DDEX formats: ERN 4.3.2 release messages (:mod:`~maestro_core.ddex.ern`), the deals they offer
(:mod:`~maestro_core.ddex.deals`), the delivered audio (:mod:`~maestro_core.ddex.audio`) and offline validation
against the vendored XSDs (:mod:`~maestro_core.ddex.validation`, ``schemas/`` with DDEX's notice); DSR usage
reports live in :mod:`~maestro_core.ddex.dsr`.

Submodules are imported by name (``from maestro_core.ddex.ern import ...``) so that importing one format does not
load the others.
"""

from __future__ import annotations

import re

# A DDEX Party ID, as the ERN 4.3.2 XSD and the DSR profiles define it ("PADPIDA" then letters and digits).
DPID = re.compile(r"PADPIDA[A-Za-z0-9]+")
