# The WireWatch worker image (docker-compose.yml's `worker` service).
# Any other subcommand runs too: docker run --rm wirewatch-worker produce ...

# The matcher's compiled core (native/, Rust) is built into a wheel here, so the
# final image needs no Rust toolchain.  Debian bookworm's python3 is 3.11, like
# the final image's.
FROM rust:1-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python3 -m venv /venv \
 && /venv/bin/pip install --quiet --upgrade pip \
 && /venv/bin/pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WIREWATCH_HOME=/data

WORKDIR /app
COPY --from=build /wheels /wheels
COPY examples ./examples
RUN pip install /wheels/*.whl \
 && python -c "from wirewatch.query import Matcher; assert Matcher().engine == 'native'" \
 && useradd --system --create-home --home-dir /home/wirewatch wirewatch \
 && mkdir -p /data \
 && chown wirewatch /data

USER wirewatch
VOLUME ["/data"]
# The worker's web interface (WIREWATCH_WEB_PORT), and its metrics and health (WIREWATCH_METRICS_PORT).
EXPOSE 6066 9464
ENTRYPOINT ["wirewatch"]
CMD ["worker"]
