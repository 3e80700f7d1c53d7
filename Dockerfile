# The ETL service of docker-compose.yml: runs `etl db upgrade` once, then
# `etl sync` every ETL_SYNC_INTERVAL seconds (see etl/scheduler.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A regular (non-editable) install: the wheel carries the migrations and the
# views' SQL files inside the package.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY etl ./etl
COPY migrations ./migrations
COPY sql ./sql
RUN pip install . \
    && rm -rf /build

RUN useradd --system --uid 10001 --create-home --home-dir /home/etl etl
USER etl
# No .env file is copied into the image: settings come from the environment.
WORKDIR /home/etl

CMD ["python", "-m", "etl.scheduler"]
