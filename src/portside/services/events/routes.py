"""The rules of each bus with their compiled patterns and targets, kept in memory for matching.

Matching runs for every event; reading and compiling rules each time would cost more than the
matching itself. One portside process owns its data directory, so the cache is exact as long
as every write to a bus's rules or targets forgets that bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portside.services.events.model import rules_table, targets_table
from portside.services.events.names import BusRef, RuleRef
from portside.services.events.patterns import Pattern, compile_pattern
from portside.store import Store

DISABLED = "DISABLED"


@dataclass(frozen=True)
class Route:
    rule: RuleRef
    pattern: Pattern | None  # None for a scheduled rule
    enabled: bool
    targets: tuple[dict[str, Any], ...]


class Routes:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_bus: dict[BusRef, dict[str, Route]] = {}

    def of(self, bus: BusRef) -> dict[str, Route]:
        """The bus's rules by name."""
        found = self._by_bus.get(bus)
        if found is None:
            found = self._by_bus[bus] = self._load(bus)
        return found

    def matching(self, bus: BusRef, event: dict[str, Any]) -> list[Route]:
        return [r for r in self.of(bus).values()
                if r.enabled and r.pattern is not None and r.pattern.matches(event)]

    def forget(self, bus: BusRef) -> None:
        self._by_bus.pop(bus, None)

    def reset(self) -> None:
        self._by_bus.clear()

    def _load(self, bus: BusRef) -> dict[str, Route]:
        where = (rules_table.c.account_id == bus.account_id, rules_table.c.region == bus.region,
                 rules_table.c.bus == bus.name)
        with self._store.begin() as conn:
            rules = conn.execute(select(rules_table).where(*where)).all()
            targets = conn.execute(select(targets_table).where(
                targets_table.c.account_id == bus.account_id,
                targets_table.c.region == bus.region, targets_table.c.bus == bus.name)
                .order_by(targets_table.c.position)).all()
        by_rule: dict[str, list[dict[str, Any]]] = {}
        for row in targets:
            by_rule.setdefault(row.rule, []).append(json.loads(row.target))
        return {
            row.name: Route(RuleRef(bus, row.name),
                            compile_pattern(row.event_pattern) if row.event_pattern else None,
                            row.state != DISABLED, tuple(by_rule.get(row.name, ())))
            for row in rules
        }
