# Maestro image: the package, its DAGs and SQL, on Airflow 3's Python. Used by every Airflow service and by the
# Ray head and workers, so tasks and generator actors run the same code.
FROM python:3.11-slim-bookworm

ARG MAESTRO_UID=50000
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/maestro/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

# fluid-soundfont-gm: FluidR3_GM (MIT), the composer's default SoundFont (the TimGM6mb fallback is GPL-2.0-only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl git libsndfile1 tini \
    && if [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then \
         apt-get install -y --no-install-recommends fluid-soundfont-gm; fi \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/maestro
COPY pyproject.toml constraints.txt README.md ./
COPY maestro_core ./maestro_core
COPY inference ./inference
COPY jobs ./jobs
COPY maestro_pipeline ./maestro_pipeline
COPY maestro_ai ./maestro_ai
RUN pip install -c constraints.txt -e . \
    && pip install -c constraints.txt "psycopg2-binary" "fakesnow[server]" \
    && pip install --no-deps tinysoundfont==0.3.7 \
    && python -c "import inference.synth as s; s.render_voice('saw_bass', [(0, .1, 40, 100)], .2, 44100, 0); \
s.render_drums('808', [(0, 'kick', 100)], .2, 44100, 0); import numpy as np; \
from inference.effects import apply_effects; from inference.master import master; \
master(apply_effects(np.full((2, 44100), .1, np.float32), 'lofi', 44100), 44100)"
# ^ compiles the synthesis, effects and mastering kernels once into the image (numba cache=True), not once per
#   container start.
COPY dags ./dags
COPY sql ./sql

RUN useradd --uid "${MAESTRO_UID}" --create-home maestro \
    && mkdir -p /opt/airflow /var/lib/maestro \
    && chown -R maestro /opt/airflow /var/lib/maestro
USER maestro
ENV MAESTRO_HOME=/var/lib/maestro
# QC's filter banks, designed once and cached under ~/.cache/maestro for the runtime user.
RUN python -c "from inference.qc import warm_up; warm_up()"

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["maestro", "--help"]
