"""The catalog review page: listen to a run's tracks, look at them, approve or hold them before delivery.

* :func:`create_app` builds the FastAPI app ``maestro review serve`` runs (routes in :mod:`maestro_ai.review.app`);
* :func:`export_run` writes one run's page as static HTML with its audio and images (``maestro review export``).

The data comes from :mod:`maestro_pipeline.review`; this package only serves and renders it.
"""

from __future__ import annotations

from maestro_ai.review.app import create_app
from maestro_ai.review.export import ExportResult, export_run

__all__ = ["ExportResult", "create_app", "export_run"]
