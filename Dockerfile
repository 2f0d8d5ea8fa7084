# The WireWatch worker image (docker-compose.yml's `worker` service).
# Any other subcommand runs too: docker run --rm wirewatch-worker produce ...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WIREWATCH_HOME=/data

WORKDIR /app
COPY . .
RUN pip install . \
 && useradd --system --create-home --home-dir /home/wirewatch wirewatch \
 && mkdir -p /data \
 && chown wirewatch /data

USER wirewatch
VOLUME ["/data"]
# The worker's web interface (WIREWATCH_WEB_PORT).
EXPOSE 6066
ENTRYPOINT ["wirewatch"]
CMD ["worker"]
