"""Schedule expressions of EventBridge rules: `rate(value unit)` and the six-field
`cron(minutes hours day-of-month month day-of-week year)`, always in UTC.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html

A schedule answers one question: the first fire time after a given moment.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
YEARS = (1970, 2199)
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class InvalidSchedule(ValueError):
    """The expression is no schedule EventBridge accepts."""


@dataclass(frozen=True)
class Rate:
    """Every `seconds`, counted from the rule's anchor (when it was created or enabled)."""

    seconds: int

    def next_after(self, moment: datetime, anchor: datetime) -> datetime:
        elapsed = (moment - anchor).total_seconds()
        periods = max(1, int(elapsed // self.seconds) + 1)
        return anchor + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str  # the raw field: its L/W forms depend on the month
    day_of_week: str

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first minute strictly after `moment` that the expression names; None when
        no year left in range has one."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    found = self._time_of_day(start if same_day else None)
                    if found is not None:
                        return datetime(year, month, day, found[0], found[1], tzinfo=UTC)
        return None

    def _time_of_day(self, start: datetime | None) -> tuple[int, int] | None:
        for hour in sorted(self.hours):
            if start is not None and hour < start.hour:
                continue
            for minute in sorted(self.minutes):
                if start is not None and hour == start.hour and minute < start.minute:
                    continue
                return hour, minute
        return None

    def days(self, year: int, month: int) -> list[int]:
        """The days of `month` the day-of-month or the day-of-week field selects."""
        last = calendar.monthrange(year, month)[1]
        if self.day_of_week == "?":
            found = _month_days(self.day_of_month, year, month, last)
        else:
            found = _week_days(self.day_of_week, year, month, last)
        return sorted(found)


Schedule = Rate | Cron


def parse_schedule(expression: str) -> Schedule:
    """Parse a ScheduleExpression; raise InvalidSchedule for anything AWS refuses."""
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        # "If the value is equal to 1, then the unit must be singular" (and plural above 1).
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise InvalidSchedule(expression)
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    cron = _CRON.fullmatch(expression)
    if not cron:
        raise InvalidSchedule(expression)
    return _parse_cron(cron.group(1))


def _parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidSchedule(body)
    minute, hour, day_of_month, month, day_of_week, year = fields
    # One of the two day fields must be `?`, and not both.
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidSchedule(body)
    cron = Cron(
        minutes=_values(minute, 0, 59), hours=_values(hour, 0, 23),
        months=_values(month, 1, 12, MONTHS), years=_values(year, *YEARS),
        day_of_month=day_of_month.upper(), day_of_week=day_of_week.upper())
    # Check the day fields once, on a month that has every day and weekday.
    if day_of_week == "?":
        _month_days(cron.day_of_month, 2000, 1, 31)
    else:
        _week_days(cron.day_of_week, 2000, 1, 31)
    return cron


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise InvalidSchedule(text)
    value = int(text)
    if not low <= value <= high:
        raise InvalidSchedule(text)
    return value


def _values(field: str, low: int, high: int,
            names: dict[str, int] | None = None) -> frozenset[int]:
    """A field of `*`, values, `a-b` ranges and `/step`s, comma-separated."""
    found: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, 1, high) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _number(first_text, low, high, names), _number(last_text, low, high,
                                                                         names)
            if first > last:
                raise InvalidSchedule(part)
        else:
            first = _number(base, low, high, names)
            last = high if step_text else first
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _month_days(field: str, year: int, month: int, last: int) -> set[int]:
    """Day-of-month: values and ranges, `L` (the last day), `nW` (the weekday nearest the
    n-th, within the month) and `LW` (the last weekday)."""
    if field == "L":
        return {last}
    if field == "LW":
        return {_nearest_weekday(year, month, last, last)}
    if field.endswith("W"):
        day = _number(field[:-1], 1, 31)
        return {_nearest_weekday(year, month, min(day, last), last)} if day <= last else set()
    return {d for d in _values(field, 1, 31) if d <= last}


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    weekday = calendar.weekday(year, month, day)  # Monday 0 … Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _week_days(field: str, year: int, month: int, last: int) -> set[int]:
    """Day-of-week (1 = SUN … 7 = SAT): values and ranges, `nL` (the last such weekday of the
    month), `L` alone (Saturday, the week's last day) and `n#k` (the k-th such weekday)."""
    first_weekday = _aws_weekday(year, month, 1)
    if "#" in field:
        day_text, _, nth_text = field.partition("#")
        weekday, nth = _number(day_text, 1, 7, WEEKDAYS), _number(nth_text, 1, 5)
        day = 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1)
        return {day} if day <= last else set()
    if field == "L":
        field = "7"
    elif field.endswith("L"):
        weekday = _number(field[:-1], 1, 7, WEEKDAYS)
        last_weekday = _aws_weekday(year, month, last)
        return {last - (last_weekday - weekday) % 7}
    weekdays = _values(field, 1, 7, WEEKDAYS)
    return {d for d in range(1, last + 1) if (first_weekday + d - 2) % 7 + 1 in weekdays}


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday … 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1
