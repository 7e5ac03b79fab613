"""Deterministic identity: same prompt, date and ordinal -> same request, seed and track."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maestro_core.errors import InputError
from maestro_core.identity import MAESTRO_NAMESPACE, logical_day, request_id, seed_for, track_id

DAY = dt.date(2026, 3, 1)


def test_request_id_is_a_uuid5_under_the_maestro_namespace():
    rid = request_id("p1", DAY, 0)
    assert uuid.UUID(rid).version == 5
    assert rid == str(uuid.uuid5(MAESTRO_NAMESPACE, "request:p1|2026-03-01|0"))


def test_rerun_in_another_process_gives_the_same_ids_and_seed():
    """A retry runs in a new process (Airflow, Ray): ids and seeds must not depend on anything process-local,
    such as Python's per-process hash seed."""
    import os
    import subprocess
    import sys

    code = ("from maestro_core.identity import request_id, seed_for, track_id\n"
            "rid = request_id('p1', '2026-03-01', 3)\n"
            "print(rid, seed_for(rid), track_id(rid, 'composer-0.1.0'))")
    ids = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout.split()
        ids.add(tuple(out))
    first = request_id("p1", DAY, 3)
    assert ids == {(first, str(seed_for(first)), track_id(first, "composer-0.1.0"))}


def test_any_change_of_prompt_date_ordinal_or_engine_version_changes_the_ids():
    ids = {request_id("p1", DAY, 0), request_id("p2", DAY, 0), request_id("p1", DAY + dt.timedelta(days=1), 0),
           request_id("p1", DAY, 1)}
    assert len(ids) == 4
    rid = request_id("p1", DAY, 0)
    assert track_id(rid, "composer-0.1.0") != track_id(rid, "composer-0.2.0")


def test_airflow_logical_datetimes_map_to_their_utc_date():
    tz = dt.timezone(dt.timedelta(hours=-5))
    assert logical_day(dt.datetime(2026, 3, 1, 22, 0, tzinfo=tz)) == dt.date(2026, 3, 2)
    assert request_id("p1", dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC), 0) == request_id("p1", DAY, 0)


@given(st.text(min_size=1).filter(str.strip), st.dates(), st.integers(0, 10**6))
def test_seed_is_a_63_bit_non_negative_integer(prompt_id, day, ordinal):
    seed = seed_for(request_id(prompt_id, day, ordinal))
    assert 0 <= seed < 2**63


@pytest.mark.parametrize(("args", "field"), [(("", DAY, 0), "prompt_id"), (("p", DAY, -1), "ordinal"),
                                             (("p", DAY, 1.0), "ordinal"), (("p", "yesterday", 0), "logical_date"),
                                             (("p", 20260301, 0), "logical_date")])
def test_bad_identity_inputs_name_the_field(args, field):
    with pytest.raises(InputError) as err:
        request_id(*args)
    assert err.value.field == field


def test_track_id_and_seed_refuse_non_uuids_and_empty_versions():
    with pytest.raises(InputError, match="request_id"):
        seed_for("not-a-uuid")
    with pytest.raises(InputError, match="engine_version"):
        track_id(request_id("p", DAY, 0), "")
