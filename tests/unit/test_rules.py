from wirewatch.rules import Rule, load_rules


def write(tmp_path, text):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_keep_every_other_key(tmp_path):
    rules, problems = load_rules(
        write(
            tmp_path,
            "rules:\n"
            "  - id: opec\n    name: OPEC\n    query: OPEC NEAR/5 cut*\n    subscribers: [a@example.com]\n    digest: daily\n"
            "  - id: 42\n    query: cocoa\n",
        )
    )
    assert problems == []
    assert rules[0] == Rule("opec", "OPEC NEAR/5 cut*", "OPEC", {"subscribers": ["a@example.com"], "digest": "daily"})
    assert rules[1].id == "42"


def test_json_round_trip():
    rule = Rule("r1", "title:(Xi OR Putin)", None, {"subscribers": ["#desk"], "quiet": True})
    assert Rule.from_json(rule.to_json()) == rule
    assert Rule.from_json('{"id": "x", "query": "oil", "name": "Oil"}') == Rule("x", "oil", "Oil")


def test_every_problem_is_collected_with_id_line_and_column(tmp_path):
    rules, problems = load_rules(
        write(
            tmp_path,
            "rules:\n"
            "  - id: good\n    query: oil\n"  # line 2
            "  - id: bad\n    query: a NEAR/2 NOT b\n"  # line 4
            "  - query: no id\n"  # line 6
            "  - id: no-query\n"  # line 7
            "  - id: twice\n    query: x\n"  # line 8
            "  - id: twice\n    query: y\n"  # line 10
            "  - id: neg\n    query: -oil\n"  # line 12
            "  - id: affirm\n    query: true\n",  # line 14: a YAML boolean, not a word
        ),
    )
    assert [r.id for r in rules] == ["good"]
    found = [(p.rule_id, p.line) for p in problems]
    assert found == [("bad", 4), (None, 6), ("no-query", 7), ("twice", 10), ("neg", 12), ("affirm", 14)]
    text = [str(p) for p in problems]
    assert "column 10: NEAR takes" in text[0]
    assert "rule #3 has no id" in text[1]
    assert "has no query" in text[2]
    assert "line 8" in text[3]
    assert "none of its words" in text[4]
    assert "bool" in text[5]


def test_yaml_syntax_error_has_a_line(tmp_path):
    rules, problems = load_rules(write(tmp_path, "rules:\n  - id: a\n    query: [oil\n  - id: b\n"))
    assert rules == [] and len(problems) == 1
    assert "YAML syntax error" in str(problems[0]) and problems[0].line is not None


def test_not_a_rules_file(tmp_path):
    assert "top-level 'rules:'" in str(load_rules(write(tmp_path, "- a\n- b\n"))[1][0])
    assert "cannot read" in str(load_rules(tmp_path / "missing.yaml")[1][0])


def test_json_lines_rules_report_problems_by_line(tmp_path):
    path = tmp_path / "rules.jsonl"
    path.write_text(
        '{"id": "a", "query": "oil", "subscribers": [{"email": "desk@example.com"}]}\n'
        "\n"
        "# exported 2026-12-01\n"
        '{"id": "b", "query": "a NEAR/2 NOT b"}\n'  # line 4
        "{not json\n"  # line 5
        '{"id": "c"}\n'  # line 6
        '{"id": "a", "query": "gas"}\n'  # line 7
        '{"id": "d", "query": "\\"peace talks\\""}\n',
        encoding="utf-8",
    )
    rules, problems = load_rules(path)
    assert [r.id for r in rules] == ["d"]
    assert rules[0].query == '"peace talks"'
    assert [(p.rule_id, p.line) for p in problems] == [("b", 4), (None, 5), ("c", 6), ("a", 7)]
    assert "not a JSON object" in str(problems[1])
    assert "line 1" in str(problems[3])


def test_lines_of_items_with_block_scalars_and_lists_at_column_zero(tmp_path):
    text = (
        "# comment\n"
        "rules:\n"
        "- id: a\n"  # line 3
        "  name: |\n"
        "    - not an item\n"
        "  query: oil\n"
        "- id: bad\n"  # line 7
        "  query: NOT oil\n"
        "other:\n"
        "- stray\n"
    )
    rules, problems = load_rules(write(tmp_path, text))
    assert [r.id for r in rules] == ["a"] and [(p.rule_id, p.line) for p in problems] == [("bad", 7)]


def test_lines_of_items_in_flow_style(tmp_path):
    rules, problems = load_rules(write(tmp_path, "rules: [\n  {id: a, query: oil},\n  {id: b, query: NOT oil}\n]\n"))
    assert [(p.rule_id, p.line) for p in problems] == [("b", 3)]


def test_yes_and_no_are_words_in_yaml_1_2(tmp_path):
    rules, problems = load_rules(write(tmp_path, "rules:\n  - id: y\n    query: yes\n  - id: n\n    query: no\n"))
    assert problems == [] and [r.query for r in rules] == ["yes", "no"]
