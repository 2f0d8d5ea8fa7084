"""A process's metrics and health endpoints read as Prometheus and an orchestrator would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of a process's /metrics, by (name, sorted labels); empty while it does not answer."""
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return {}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def ready(port: int) -> tuple[int, dict]:
    status, text = get(f"http://127.0.0.1:{port}/readyz")
    return status, json.loads(text) if text else {}
