"""The ECS service: one class whose bases are the handler families (task definitions, tags,
clusters, capacity providers, container instances, tasks, agent reports), plus what runs
beside requests: the agents' channels, their liveness watch and the purge of stopped tasks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import select, update

from portside.context import RequestContext
from portside.services.base import Service
from portside.services.ecs.access import ACTIONS, cluster_condition
from portside.services.ecs.agents import AgentHub, Receive, Send
from portside.services.ecs.capacity import CapacityProvidersApi
from portside.services.ecs.clusters import ClustersApi
from portside.services.ecs.common import now
from portside.services.ecs.container_instances import ContainerInstancesApi
from portside.services.ecs.model import container_instances, fargate_hosts
from portside.services.ecs.reports import ReportsApi
from portside.services.ecs.state import EcsState, cluster_scope
from portside.services.ecs.tagging import TAGGING_ACTIONS, TaggingApi
from portside.services.ecs.task_definitions import TaskDefinitionsApi
from portside.services.ecs.tasks import TasksApi

PURGE_EVERY = 60.0  # seconds between sweeps of stopped tasks past their retention


class Ecs(TaskDefinitionsApi, TaggingApi, ClustersApi, CapacityProvidersApi,
          ContainerInstancesApi, TasksApi, ReportsApi, Service):
    name = "ecs"
    actions = {**TAGGING_ACTIONS, **ACTIONS}

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.state = EcsState(runtime.store, runtime.bus)
        self.agents = AgentHub(self)
        self.rng = random.Random()

    def condition_keys(self, ctx: RequestContext, operation: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        return cluster_condition(ctx, operation, params)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """No agent holds a channel to a process that just started: every host that was
        connected is disconnected now (agents reconnect and reconcile)."""
        at = now()
        with self.runtime.store.begin() as conn:
            scopes = {cluster_scope(r.account_id, r.region, r.cluster) for r in conn.execute(
                select(container_instances).where(container_instances.c.agent_connected))}
            conn.execute(update(fargate_hosts).values(agent_connected=False))
        for scope in scopes:
            with self.state.write(scope) as (conn, view):
                for host in list(view.hosts.values()):
                    if host.agent_connected:
                        self.state.instance_changed(conn, view, host, at, agent_connected=False)

    def background(self) -> list[Coroutine[Any, Any, None]]:
        settings = self.runtime.settings
        return [self.agents.watch(settings.ecs_agent_timeout),
                self._purge_every(PURGE_EVERY, settings.ecs_task_retention)]

    def reset(self) -> None:
        self.state.forget()
        self.agents.close_all()

    async def _purge_every(self, seconds: float, retention: float) -> None:
        """Stopped tasks stay describable for `retention` seconds (an hour, as in ECS)."""
        while True:
            await asyncio.sleep(min(seconds, retention))
            self.purge_stopped(now() - retention)

    # -- the agents' channel ------------------------------------------------------------------

    async def agent_channel(self, ctx: RequestContext, query_string: str, receive: Receive,
                            send: Send) -> None:
        """The WebSocket of one host's agent (the gateway authenticated its upgrade)."""
        await self.agents.serve(ctx, query_string, receive, send)
