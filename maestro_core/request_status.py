"""The statuses a generation request and a run pass through: GENERATION_REQUESTS.STATUS, GENERATION_RUNS.STATUS.

A request is ``planned`` (or ``rejected`` by planning or the rights gate), then ``generated`` or ``failed`` by a
worker. ``done`` is the planner's word for a request an earlier run already generated: it is skipped and never
stored. A run is ``running``, then ``success`` or ``failed``.
"""

from __future__ import annotations

PLANNED = "planned"
REJECTED = "rejected"
GENERATED = "generated"
FAILED = "failed"
DONE = "done"

# Statuses a stored request can have, in the order a report lists them.
REQUEST_STATUSES = (PLANNED, REJECTED, GENERATED, FAILED)

RUN_RUNNING, RUN_SUCCESS, RUN_FAILED = "running", "success", "failed"
