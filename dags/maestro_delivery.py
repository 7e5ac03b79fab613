"""
### Maestro delivery (DDEX ERN 4.3.2)

Daily, six hours after the catalog run of the same logical date starts (`0 6 * * *`): the **logical date's
generated tracks** (every run of that date whose requests ended `generated`: they passed the rights gate and QC)
are delivered to `MAESTRO_DDEX_RECIPIENT_DPID` as packages in the store (`deliveries/<recipient>/<release>/`:
`resources/<ISRC>.flac` and the `<ISRC>.xml` NewReleaseMessage, validated against the ERN 4.3.2 XSD), recorded
in DELIVERIES by MERGE, with a batch manifest per date. Tracks whose licenses cannot be expressed as a deal, with
no ISRC, or whose stored audio changed are **refused** with a reason: a result, not a failure. Re-running a date
changes nothing. Tracks a late catalog run loads are picked up by clearing this task. See docs/delivery.md.

Missing DDEX settings (`MAESTRO_DDEX_SENDER_DPID`, `MAESTRO_DDEX_RECIPIENT_DPID`, their names, `MAESTRO_ARTIST_NAME`,
`MAESTRO_LABEL_NAME`) fail the task at once, without retries and before anything is written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag, get_current_context, task

from maestro_pipeline.dag_wiring import default_args

DAG_ID = "maestro_delivery"


@dag(
    dag_id=DAG_ID,
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_s=60),
    tags=["maestro", "delivery", "ddex"],
    doc_md=__doc__,
)
def maestro_delivery() -> None:
    @task
    def deliver() -> dict:
        from maestro_pipeline import tasks
        from maestro_pipeline.delivery import deliver_logical_date

        with tasks.failing_fast():
            return deliver_logical_date(tasks.task_settings(), get_current_context()["logical_date"])

    deliver()


maestro_delivery()
