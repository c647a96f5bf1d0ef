"""Scheduled rules: a loop that fires each enabled rule's schedule as a "Scheduled Event".

The event goes on the internal bus in the same transaction that records the scheduled time
as fired, so a time fires at most once, also across restarts. After downtime only the latest
missed time fires, once.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select, update

from portside.ids import new_uuid
from portside.services.events.model import rules_table
from portside.services.events.names import BusRef, RuleRef
from portside.services.events.publishing import envelope, iso
from portside.services.events.routes import DISABLED
from portside.services.events.schedules import InvalidSchedule, Rate, Schedule, parse_schedule

if TYPE_CHECKING:
    from portside.runtime import Runtime

log = logging.getLogger("portside.events")

TICK = 1.0  # seconds between looks at the schedules


@lru_cache(maxsize=1024)
def _parsed(expression: str) -> Schedule | None:
    try:
        return parse_schedule(expression)
    except InvalidSchedule:
        return None


def latest_due(row: Row, now: float) -> datetime | None:
    """The latest scheduled time of `row` that is due (not after `now`) and not yet fired."""
    schedule = _parsed(row.schedule)
    if schedule is None:
        return None
    anchor = datetime.fromtimestamp(row.anchor, UTC)
    since = datetime.fromtimestamp(row.last_fired if row.last_fired is not None else row.anchor,
                                   UTC)
    moment = datetime.fromtimestamp(now, UTC)
    if isinstance(schedule, Rate):
        # Straight to the last period before now rather than stepping through downtime.
        since = max(since, moment - timedelta(seconds=schedule.seconds))
    due = schedule.next_after(since, anchor)
    if due is None or due > moment:
        return None
    while (following := schedule.next_after(due, anchor)) is not None and following <= moment:
        due = following
    return due


def scheduled_event(rule: RuleRef, fire_at: datetime) -> dict[str, Any]:
    return {
        "version": "0", "id": new_uuid(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": rule.bus.account_id,
        "time": iso(fire_at.timestamp()), "region": rule.bus.region,
        "resources": [rule.arn], "detail": {},
    }


class Scheduler:
    def __init__(self, runtime: Runtime, clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                self.fire_due()
            except Exception:
                log.exception("firing scheduled rules failed; trying again")
            await asyncio.sleep(TICK)

    def fire_due(self) -> int:
        """Fire every schedule that is due; return how many fired."""
        now = self.clock()
        fired = 0
        with self.runtime.store.begin() as conn:
            rows = conn.execute(select(rules_table).where(
                rules_table.c.schedule.is_not(None), rules_table.c.state != DISABLED)).all()
            for row in rows:
                fire_at = latest_due(row, now)
                if fire_at is None:
                    continue
                rule = RuleRef(BusRef(row.account_id, row.region, row.bus), row.name)
                self.runtime.bus.publish(conn, row.account_id, row.region, envelope(
                    rule.bus, scheduled_event(rule, fire_at), now, rule=rule.name))
                conn.execute(update(rules_table).where(
                    rules_table.c.account_id == row.account_id,
                    rules_table.c.region == row.region, rules_table.c.bus == row.bus,
                    rules_table.c.name == row.name).values(last_fired=fire_at.timestamp()))
                fired += 1
        return fired
