"""docker-compose.yml: valid against the Compose Specification, with the services, healthchecks, GPU reservation and
secret hygiene the production-shaped stack needs (no Docker engine here: the file is checked, not run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA_CANDIDATES = (REPO.parent / "shared" / "schemas" / "compose-spec.json",
                     Path("/work/shared/schemas/compose-spec.json"))
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
LONG_RUNNING = (*AIRFLOW_SERVICES, "postgres", "ray-head", "ray-worker-gpu", "minio", "fakesnow")
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|TOKEN|FERNET|PRIVATE_KEY|ACCESS_KEY)", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_compose_spec(compose):
    schema_path = next((p for p in SCHEMA_CANDIDATES if p.is_file()), None)
    if schema_path is None:
        pytest.skip("compose-spec.json not found at ../shared/schemas/ (CI provides it)")
    import jsonschema

    jsonschema.validate(compose, json.loads(schema_path.read_text()))


def test_stack_has_airflow_on_local_executor_with_postgres_and_execution_api(compose):
    services = compose["services"]
    assert set(LONG_RUNNING) <= set(services)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    commands = {name: services[name]["command"][:2] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": ["airflow", "api-server"], "airflow-scheduler": ["airflow", "scheduler"],
                        "airflow-dag-processor": ["airflow", "dag-processor"],
                        "airflow-triggerer": ["airflow", "triggerer"]}


def test_every_long_running_service_has_a_healthcheck(compose):
    for name in LONG_RUNNING:
        check = compose["services"][name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name


def test_ray_worker_reserves_an_nvidia_gpu_and_large_shared_memory(compose):
    worker = compose["services"]["ray-worker-gpu"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d.get("driver") == "nvidia" for d in devices)
    assert _gigabytes(worker["shm_size"]) >= 8
    assert "--num-gpus=1" in worker["command"] and "--address=ray-head:6379" in worker["command"]
    assert "ray-head" in compose["services"] and "10001" in json.dumps(compose["services"]["ray-head"]["ports"])


def test_s3_and_snowflake_stand_ins_are_wired_into_maestro(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["MAESTRO_STORAGE_URL"].startswith("${MAESTRO_STORAGE_URL:-s3://")
    assert "minio:9000" in env["AWS_ENDPOINT_URL"] and "fakesnow" in env["MAESTRO_SNOWFLAKE_HOST"]
    assert env["MAESTRO_RAY_ADDRESS"].endswith("ray://ray-head:10001}")


def test_no_secret_is_written_in_plain_text(compose):
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            if SECRET_KEY.search(key):
                assert str(value).startswith("${") and ":-" not in str(value), f"{name}: {key} is written in clear"
    text = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"(PASSWORD|SECRET)\s*[:=]\s*[\"']?[A-Za-z0-9]", text)
    env_files = {f["path"] if isinstance(f, dict) else f for s in compose["services"].values()
                 for f in s.get("env_file", [])}
    assert env_files == {"deploy/maestro.env"}
    assert (REPO / "deploy" / "maestro.env.example").is_file() and not (REPO / "deploy" / "maestro.env").exists()


def _gigabytes(size: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", str(size).lower()).groups()
    return float(number) * {"k": 1e-6, "m": 1e-3, "g": 1.0, "": 1e-9}[unit]
