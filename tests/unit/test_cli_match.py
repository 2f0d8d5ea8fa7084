import json
from pathlib import Path

from typer.testing import CliRunner

from wirewatch.cli import app

REPO = Path(__file__).resolve().parents[2]
SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" NEWID="7">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>BAHIA COCOA REVIEW</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued throughout the week in
the Bahia cocoa zone &amp; OPEC cut its quotas.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="8">
<TEXT TYPE="BRIEF">&#2;
******<TITLE>GOLD PRICE RISES
</TITLE>Blah &lt;gold&gt; price.
&#3;
</TEXT>
</REUTERS>
"""

RULES = """rules:
  - id: cocoa
    query: title:cocoa
  - id: opec
    query: OPEC NEAR/5 (cut* OR quota*) -Iran
  - id: gold
    query: gold NEAR/0 price
  - id: sample
    query: '"peace talks" title:(Xi OR Putin)'
"""


def run(*args):
    return CliRunner(mix_stderr=False).invoke(app, list(args)) if _mix_supported() else CliRunner().invoke(app, list(args))


def _mix_supported() -> bool:
    import inspect

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def test_match_prints_one_line_per_story_in_input_order(tmp_path, corpus_dir):
    (tmp_path / "a.sgm").write_text(SGML, encoding="latin-1")
    (tmp_path / "rules.yaml").write_text(RULES)
    sample = corpus_dir / "samples" / "xi-putin-moscow-visit.txt"
    result = run("match", "--rules", str(tmp_path / "rules.yaml"), str(sample), str(tmp_path / "a.sgm"))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"id": "file:xi-putin-moscow-visit.txt", "rules": ["sample"]},
        {"id": "reuters-21578:7", "rules": ["cocoa", "opec"]},
        {"id": "reuters-21578:8", "rules": ["gold"]},
    ]


def test_match_reports_unreadable_input_and_goes_on(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "bad.jsonl").write_text('{"id": "s1", "source": "x", "title": "cocoa"}\nnot json\n')
    result = run("match", "--rules", str(tmp_path / "rules.yaml"), str(tmp_path / "bad.jsonl"), str(tmp_path / "missing.txt"))
    assert result.exit_code == 0
    assert [json.loads(x) for x in result.stdout.splitlines()] == [{"id": "s1", "rules": ["cocoa"]}]
    assert "bad.jsonl:2" in result.stderr and "missing.txt" in result.stderr


def test_match_with_a_bad_rule_warns_or_refuses(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES + "  - id: broken\n    query: NOT x\n")
    (tmp_path / "s.txt").write_text("Cocoa\nbody\n")
    result = run("match", "--rules", str(tmp_path / "rules.yaml"), str(tmp_path / "s.txt"))
    assert result.exit_code == 0 and json.loads(result.stdout) == {"id": "file:s.txt", "rules": ["cocoa"]}
    assert "broken" in result.stderr
    strict = run("match", "--strict", "--rules", str(tmp_path / "rules.yaml"), str(tmp_path / "s.txt"))
    assert strict.exit_code == 2 and strict.stdout == ""


def test_rules_check(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(RULES)
    assert run("rules", "check", str(good)).exit_code == 0
    assert run("rules", "check", str(REPO / "examples" / "rules.yaml")).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES + "  - id: cocoa\n    query: x\n  - id: c\n    query: country:japan\n")
    result = run("rules", "check", str(bad))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:10: rule 'cocoa': two rules have this id (the other is at line 2)",
        f"{bad}:12: rule 'c': invalid query 'country:japan': column 1: unknown field 'country': the fields are title "
        "and body",
    ]


def test_examples_hit_the_sample_story(corpus_dir):
    result = run("match", "--rules", str(REPO / "examples" / "rules.yaml"), str(corpus_dir / "samples"))
    assert json.loads(result.stdout) == {"id": "file:xi-putin-moscow-visit.txt", "rules": ["lethal-aid", "peace-talks", "xi-putin"]}
