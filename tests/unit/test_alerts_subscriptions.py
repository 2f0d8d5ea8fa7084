"""The `subscribers:` / `realert:` schema and what `rules check` reports about it."""

from datetime import datetime, time, timezone

import pytest
import yaml

from alerts.subscriptions import QuietHours, Realert, check_rule, parse
from wirewatch.errors import RuleError


def problems(text: str) -> list[str]:
    return check_rule("r1", yaml.safe_load(text))


def test_a_full_rule_parses():
    alerting = parse(
        "opec",
        yaml.safe_load(
            """
            name: OPEC output
            query: OPEC NEAR/5 cut*
            subscribers:
              - email: [desk@example.com, Night.Editor@Example.COM]
              - slack_webhook: https://hooks.slack.com/services/T000/B000/XXXX
                mode: digest
                every: 30
              - slack_channel: "#energy"
                quiet_hours: {start: "22:00", end: "07:00", tz: Europe/London}
                min_urgency: 2
              - console: true
            realert: {max: 5, minutes: 2}
            """
        ),
    )
    assert alerting.display_name == "OPEC output"
    assert [s.channel for s in alerting.subscribers] == ["email", "email", "slack_webhook", "slack_channel", "console"]
    assert alerting.subscribers[1].target == "Night.Editor@example.com"  # domain normalised
    hook = alerting.subscribers[2]
    assert hook.mode == "digest" and hook.digest_minutes == 30
    assert hook.target_id.startswith("hook-") and "slack.com" not in hook.target_id
    assert alerting.subscription("slack_webhook", hook.target_id) is hook
    assert alerting.realert == Realert(max=5, minutes=2)


def test_no_subscribers_is_fine_and_realert_defaults_on():
    alerting = parse("r", {"query": "oil"})
    assert alerting.subscribers == ()
    assert alerting.realert == Realert()
    assert parse("r", {"realert": False}).realert is None


def test_unquoted_yaml_times_are_read_as_clock_times():
    # YAML 1.1 reads 22:00 as the base-60 number 1320.
    alerting = parse("r", yaml.safe_load("subscribers: [{console: true, quiet_hours: {start: 22:00, end: 07:30}}]"))
    quiet = alerting.subscribers[0].quiet_hours
    assert (quiet.start, quiet.end, quiet.tz) == (time(22, 0), time(7, 30), "UTC")


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("{sms: '+441234'}", "subscriber 1: unknown channel type 'sms' (expected one of: email, slack_webhook, slack_channel, console)"),
        ("{email: 'desk@'}", "subscriber 1: email: 'desk@' is not a valid email address"),
        ("{email: 'not an address'}", "subscriber 1: email: 'not an address' is not a valid email address"),
        ("{email: []}", "subscriber 1: email: the list of addresses is empty"),
        ("{slack_webhook: 'hooks.slack.com/services/x'}", "subscriber 1: slack_webhook: 'hooks.slack.com/services/x' is not an https:// URL"),
        ("{slack_webhook: 'ftp://hooks.slack.com/x'}", "is not an https:// URL"),
        ("{slack_webhook: 'http://hooks.slack.com/x'}", "webhooks must use https://"),
        ("{slack_webhook: 'https://hooks slack.com/x'}", "contains spaces"),
        ("{slack_webhook: 'https://hooks.slack.com:99999/x'}", "is not a valid URL"),
        ("{slack_channel: 'energy desk'}", "is neither a channel name"),
        ("{console: 'yes please'}", "console: write `console: true`"),
        ("{email: a@example.com, quiet_hours: {start: '22:00', end: '07:00', tz: Europe/Londres}}", "quiet_hours.tz: unknown time zone 'Europe/Londres'"),
        ("{email: a@example.com, quiet_hours: {start: '25:00', end: '07:00'}}", "quiet_hours.start: '25:00' is not a time of day"),
        ("{email: a@example.com, quiet_hours: {start: '07:00', end: '07:00'}}", "start and end are the same time"),
        ("{email: a@example.com, mode: hourly}", "email: mode: Input should be 'instant' or 'digest'"),
        ("{email: a@example.com, every: 10}", "`every` applies only to `mode: digest`"),
        ("{email: a@example.com, mode: digest, every: 0}", "every: Input should be greater than 0"),
        ("{email: a@example.com, min_urgency: 2}", "`min_urgency` only matters with `quiet_hours`"),
        ("{email: a@example.com, colour: red}", "unknown key 'colour'"),
        ("{email: a@example.com, console: true}", "names more than one channel (email, console)"),
        ("{mode: digest}", "names no channel"),
        ("just-a-string", "must be a mapping"),
    ],
)
def test_bad_subscribers_are_reported_with_rule_and_reason(entry, expected):
    found = problems(f"subscribers: [{entry}]")
    assert len(found) == 1, found
    assert found[0].startswith("rule 'r1': ")
    assert expected in found[0]


def test_every_problem_is_reported_not_just_the_first():
    found = problems(
        """
        subscribers:
          - email: good@example.com
          - email: [ok@example.com, 'bad@']
          - pager: 555
          - slack_channel: "#desk"
            quiet_hours: {start: "22:00", end: "07:00", tz: Nowhere/City}
          - email: good@example.com
        realert: {max: 0, minutes: -1}
        """
    )
    assert [p.split(":")[1].strip() for p in found] == [
        "subscriber 2",
        "subscriber 3",
        "subscriber 4",
        "subscriber 5",
        "realert",
        "realert",
    ]
    assert "same email as subscriber 1" in found[3]


def test_realert_and_subscribers_shapes():
    assert "subscribers must be a list" in problems("subscribers: {email: a@example.com}")[0]
    assert "realert must be a mapping" in problems("realert: 5")[0]


def test_parse_raises_one_rule_error_with_every_problem():
    with pytest.raises(RuleError) as info:
        parse("r9", {"subscribers": [{"sms": 1}, {"email": "x@"}]})
    assert info.value.rule_id == "r9"
    assert "subscriber 1" in str(info.value) and "subscriber 2" in str(info.value)


def test_quiet_hours_across_midnight_in_a_time_zone():
    quiet = QuietHours(start="22:00", end="07:00", tz="Europe/London")
    # 21:30 UTC in July is 22:30 in London (BST): quiet.
    assert quiet.contains(datetime(2024, 7, 1, 21, 30, tzinfo=timezone.utc))
    # 21:30 UTC in January is 21:30 in London (GMT): not quiet.
    assert not quiet.contains(datetime(2024, 1, 1, 21, 30, tzinfo=timezone.utc))
    assert quiet.contains(datetime(2024, 1, 2, 6, 59, tzinfo=timezone.utc))
    assert not quiet.contains(datetime(2024, 1, 2, 7, 0, tzinfo=timezone.utc))
    end = quiet.end_after(datetime(2024, 7, 1, 21, 30, tzinfo=timezone.utc))
    assert end.astimezone(timezone.utc) == datetime(2024, 7, 2, 6, 0, tzinfo=timezone.utc)


def test_quiet_hours_within_one_day_and_across_a_clock_change():
    quiet = QuietHours(start="12:00", end="13:00", tz="America/New_York")
    assert quiet.contains(datetime(2024, 3, 11, 16, 30, tzinfo=timezone.utc))  # 12:30 EDT
    assert not quiet.contains(datetime(2024, 3, 11, 17, 30, tzinfo=timezone.utc))
    # Asked on the Saturday before the spring change, the end is Sunday 13:00 EDT = 17:00 UTC.
    end = quiet.end_after(datetime(2024, 3, 9, 18, 30, tzinfo=timezone.utc))
    assert end.astimezone(timezone.utc) == datetime(2024, 3, 10, 17, 0, tzinfo=timezone.utc)
