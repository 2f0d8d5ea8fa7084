"""`wirewatch kibana import` against a real HTTP server on 127.0.0.1 that stands in for Kibana.

The server records each request as it arrives (method, path, query,
headers, the multipart body parsed by the standard library) and answers
what Kibana's saved objects import API answers: success, success: false
with errors, 503 while starting, 401.  No Kibana runs here.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.servers import free_port, kibana  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NAME = 'Say "hi" \\ (or *)'


def wirewatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_KIBANA")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "wirewatch"), *args],
        cwd=ROOT, env={**clean, "COLUMNS": "200", **(env or {})}, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def rules(tmp_path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [
        {"id": "opec", "name": "OPEC output", "query": "OPEC NEAR/5 cut*"},
        {"id": 'q"uote', "name": NAME, "query": "gold"},
    ]}))
    return path


def exported(rules: Path) -> str:
    result = wirewatch("kibana", "export", "--rules", str(rules))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_posts_the_ndjson_with_xsrf_and_basic_auth(kibana, rules):
    env = {"WIREWATCH_KIBANA_USERNAME": "elastic", "WIREWATCH_KIBANA_PASSWORD": "pa:ss wörd"}
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url, env=env)
    assert result.returncode == 0, result.stderr
    (request,) = kibana.received()
    assert request.method == "POST"
    assert request.path == "/api/saved_objects/_import"
    assert request.query == {"overwrite": ["true"]}
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    expected = "Basic " + base64.b64encode("elastic:pa:ss wörd".encode()).decode()
    assert request.headers["authorization"] == expected
    assert set(request.form()) == {"file"}
    assert request.ndjson() == exported(rules)
    assert "7 of 7 saved object(s) imported" in result.stderr
    assert f"dashboard: {kibana.url}/app/dashboards#/view/" in result.stdout


def test_api_key_auth_and_the_url_from_settings_with_a_space(kibana, rules):
    env = {"WIREWATCH_KIBANA_URL": f"{kibana.url}/s/news/", "WIREWATCH_KIBANA_API_KEY": "a2V5OnNlY3JldA==",
           "WIREWATCH_KIBANA_USERNAME": "ignored", "WIREWATCH_KIBANA_PASSWORD": "ignored"}
    result = wirewatch("kibana", "import", "--rules", str(rules), env=env)
    assert result.returncode == 0, result.stderr
    (request,) = kibana.received()
    assert request.path == "/s/news/api/saved_objects/_import"
    assert request.headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="


def test_no_auth_header_without_credentials(kibana, rules):
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url)
    assert result.returncode == 0, result.stderr
    assert "authorization" not in kibana.received()[0].headers


def test_partial_errors_exit_1_naming_each_object(kibana, rules):
    kibana.reply((200, {
        "success": False,
        "successCount": 5,
        "errors": [
            {"id": "s-1", "type": "search", "title": NAME, "meta": {"title": NAME, "icon": "discoverApp"},
             "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "dv-9"}]}},
            {"id": "l-2", "type": "lens", "meta": {"title": "Urgency"},
             "error": {"type": "unknown", "message": "[attributes.state]: expected object", "statusCode": 400}},
        ],
    }))
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url)
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "5 of 7 saved object(s) imported" in err
    assert f"not imported: search s-1 ({NAME}): missing references: index-pattern dv-9" in err
    assert "not imported: lens l-2 (Urgency): unknown: [attributes.state]: expected object (HTTP 400)" in err
    assert "2 saved object(s) not imported" in err


def test_503_while_kibana_starts_is_retried(kibana, rules):
    kibana.reply((503, {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"}))
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url, "--wait", "30")
    assert result.returncode == 0, result.stderr
    first, second = kibana.received()
    assert first.ndjson() == second.ndjson()
    assert "7 of 7 saved object(s) imported" in result.stderr


def test_503_for_longer_than_the_wait_fails_with_the_reason(kibana, rules):
    kibana.reply(*[(503, {"statusCode": 503, "error": "Service Unavailable", "message": "not ready yet"})] * 50)
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url, "--wait", "1")
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert f"Kibana at {kibana.url}/api/saved_objects/_import answered HTTP 503: Service Unavailable: not ready yet" in err
    assert "gave up after" in err
    assert 1 <= len(kibana.received()) <= 5


def test_401_is_not_retried_and_says_what_to_check(kibana, rules):
    kibana.reply((401, {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception] unable to authenticate"}))
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", kibana.url)
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "answered HTTP 401: Unauthorized: [security_exception] unable to authenticate" in err
    assert "WIREWATCH_KIBANA_API_KEY" in err
    assert len(kibana.received()) == 1


def test_a_closed_port_is_a_clear_error_naming_the_url(rules):
    url = f"http://127.0.0.1:{free_port()}"
    result = wirewatch("kibana", "import", "--rules", str(rules), "--url", url, "--wait", "1")
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert f"cannot reach Kibana at {url}/api/saved_objects/_import" in err
    assert "Connection refused" in err and "Traceback" not in result.stderr


def test_no_url_is_a_configuration_error(rules):
    result = wirewatch("kibana", "import", "--rules", str(rules))
    assert result.returncode == 2
    assert "no Kibana URL" in result.stderr


def test_large_rule_sets_go_in_batches_data_view_first(kibana, tmp_path):
    from wirewatch.kibana import client, objects
    from wirewatch.rules import Rule

    objs = objects.saved_objects("ix", [Rule(f"r{i}", "gold") for i in range(25)])
    result = client.import_objects(objs, kibana.url, wait_s=0, batch=10)
    assert result.success and result.success_count == 30 and result.requests == 3
    batches = [[json.loads(line) for line in r.ndjson().splitlines()] for r in kibana.received()]
    assert [len(b) for b in batches] == [10, 10, 10]
    assert [o["type"] for o in batches[0][:5]] == ["index-pattern", "lens", "lens", "search", "dashboard"]
    assert [o for b in batches for o in b] == objs
