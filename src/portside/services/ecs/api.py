"""The ECS service: one class whose bases are the handler families (task definitions, tags …)."""

from __future__ import annotations

from portside.services.base import Service
from portside.services.ecs.tagging import TAGGING_ACTIONS, TaggingApi
from portside.services.ecs.task_definitions import TaskDefinitionsApi


class Ecs(TaskDefinitionsApi, TaggingApi, Service):
    name = "ecs"
    actions = {**TAGGING_ACTIONS}
