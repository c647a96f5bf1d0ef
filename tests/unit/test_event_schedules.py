"""Schedule expressions: what EventBridge accepts, and the next fire time of each form.

The expressions are the examples of
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portside.services.events.schedules import InvalidSchedule, Rate, parse_schedule


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("expression, seconds", [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
    ("rate(12 hours)", 43200), ("rate(1 day)", 86400), ("rate(7 days)", 604800),
])
def test_rates(expression, seconds):
    assert parse_schedule(expression) == Rate(seconds)


def test_a_rate_fires_each_period_after_its_anchor():
    rate = parse_schedule("rate(1 minute)")
    anchor = at(2024, 1, 1, 12, 0, 30)
    assert rate.next_after(anchor, anchor) == at(2024, 1, 1, 12, 1, 30)
    assert rate.next_after(at(2024, 1, 1, 12, 5, 29), anchor) == at(2024, 1, 1, 12, 5, 30)
    assert rate.next_after(at(2024, 1, 1, 12, 5, 30), anchor) == at(2024, 1, 1, 12, 6, 30)


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(2 weeks)", "rate(-1 days)",
    "rate(1  minute)", "rate(1.5 hours)", "rate (1 day)",
    "cron(0 10 * * ? )", "cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(60 10 * * ? *)",
    "cron(0 24 * * ? *)", "cron(0 10 32 * ? *)", "cron(0 10 * 13 ? *)", "cron(0 10 ? * 8 *)",
    "cron(0 10 * * ? 1969)", "cron(0 10 * * ? 2200)", "cron(0 10 ? * 6#6 *)",
    "cron(0 10 ? * FOO *)", "cron(5-1 10 * * ? *)", "cron(0/0 10 * * ? *)", "cron(0 10 0W * ? *)",
    "0 10 * * ? *", "cron(0 10 * * ? *) ", "",
])
def test_invalid_expressions(expression):
    with pytest.raises(InvalidSchedule):
        parse_schedule(expression)


@pytest.mark.parametrize("expression, after, expected", [
    # "Run at 10:15 AM (UTC) every day"
    ("cron(15 10 * * ? *)", at(2024, 3, 5, 10, 15), at(2024, 3, 6, 10, 15)),
    ("cron(15 10 * * ? *)", at(2024, 3, 5, 10, 14, 59), at(2024, 3, 5, 10, 15)),
    # "Run at 6:00 PM Monday through Friday"
    ("cron(0 18 ? * MON-FRI *)", at(2024, 3, 8, 18, 0), at(2024, 3, 11, 18, 0)),
    # "Run at 8:00 AM on the first day of the month"
    ("cron(0 8 1 * ? *)", at(2024, 3, 5), at(2024, 4, 1, 8, 0)),
    # "Run every 10 minutes on weekdays"
    ("cron(0/10 * ? * MON-FRI *)", at(2024, 3, 8, 23, 55), at(2024, 3, 11, 0, 0)),
    # "Run every 5 minutes between 8:00 AM and 5:55 PM weekdays"
    ("cron(0/5 8-17 ? * MON-FRI *)", at(2024, 3, 4, 17, 55), at(2024, 3, 5, 8, 0)),
    # "Run at 9 AM on the first Monday of each month"
    ("cron(0 9 ? * 2#1 *)", at(2024, 3, 5), at(2024, 4, 1, 9, 0)),
    # L: the last day of the month, also in February of a leap year
    ("cron(0 0 L * ? *)", at(2024, 2, 1), at(2024, 2, 29, 0, 0)),
    ("cron(0 0 L * ? *)", at(2023, 2, 1), at(2023, 2, 28, 0, 0)),
    # 6L: the last Friday of the month
    ("cron(0 12 ? * 6L *)", at(2024, 3, 1), at(2024, 3, 29, 12, 0)),
    # 3W: the weekday nearest the 3rd (Sunday 3 March 2024 -> Monday 4 March)
    ("cron(0 12 3W * ? *)", at(2024, 3, 1), at(2024, 3, 4, 12, 0)),
    # 1W on a Saturday moves forward to Monday the 3rd (June 2024), never into May
    ("cron(0 12 1W * ? *)", at(2024, 5, 31), at(2024, 6, 3, 12, 0)),
    # LW: the last weekday of the month (31 March 2024 is a Sunday -> Friday 29)
    ("cron(0 12 LW * ? *)", at(2024, 3, 1), at(2024, 3, 29, 12, 0)),
    # lists, names and years
    ("cron(0,30 6 ? JAN,JUL SUN 2025)", at(2024, 3, 1), at(2025, 1, 5, 6, 0)),
    ("cron(0 0 29 2 ? *)", at(2024, 3, 1), at(2028, 2, 29, 0, 0)),
])
def test_cron_next_fire_times(expression, after, expected):
    assert parse_schedule(expression).next_after(after, after) == expected


def test_a_cron_whose_years_are_over_fires_no_more():
    assert parse_schedule("cron(0 0 1 1 ? 2020)").next_after(at(2024, 1, 1), at(2024, 1, 1)) \
        is None
