"""A task as the scheduler holds it: the AWS `Task` document plus what only portside needs.

The document is exactly what DescribeTasks returns (timestamps as epoch seconds); the other
fields say where the task runs, what it reserved there and what its host's agent has seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row

from portside.services.ecs.common import dumps
from portside.services.ecs.lifecycle import TaskStatus

# A status by its name, without the Enum call's lookup (the scheduler asks for every task).
_STATUSES = {status.value: status for status in TaskStatus}


@dataclass(frozen=True)
class Reservation:
    """What a task holds on its host until it is STOPPED."""

    cpu: int = 0
    memory: int = 0
    ports: tuple[int, ...] = ()
    ports_udp: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "memory": self.memory, "ports": list(self.ports),
                "portsUdp": list(self.ports_udp)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Reservation:
        return cls(value["cpu"], value["memory"], tuple(value["ports"]),
                   tuple(value["portsUdp"]))


@dataclass
class Task:
    id: str
    account_id: str
    region: str
    cluster: str
    family: str
    host_id: str | None
    reservation: Reservation
    definition: dict[str, Any]  # the task definition with the run's overrides applied
    doc: dict[str, Any]  # the AWS Task shape
    acked_status: str | None = None
    released: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return self.doc["taskArn"]

    @property
    def last_status(self) -> TaskStatus:
        return _STATUSES[self.doc["lastStatus"]]

    @property
    def desired_status(self) -> TaskStatus:
        return _STATUSES[self.doc["desiredStatus"]]

    @property
    def group(self) -> str:
        return self.doc["group"]

    @property
    def has_eni(self) -> bool:
        return any(a["type"] == "ElasticNetworkInterface" for a in self.doc["attachments"])

    def row(self, document: str, definition: str, reserved: str) -> dict[str, Any]:
        """The task's row in `ecs_tasks`, with the texts its caller encoded: the document
        (`document_text()`, or events.encode_task's), the definition and the reservation as
        JSON (the tasks of one RunTask share those two)."""
        doc = self.doc
        return {
            "id": self.id, "account_id": self.account_id, "region": self.region,
            "cluster": self.cluster, "task_definition_arn": doc["taskDefinitionArn"],
            "family": self.family, "host_id": self.host_id,
            "launch_type": doc.get("launchType"),
            "capacity_provider_name": doc.get("capacityProviderName"),
            "group": doc["group"], "started_by": doc.get("startedBy"),
            "last_status": doc["lastStatus"], "desired_status": doc["desiredStatus"],
            "acked_status": self.acked_status, "version": doc["version"],
            "created_at": doc["createdAt"], "stopped_at": doc.get("stoppedAt"),
            "released": self.released, "reserved": reserved, "document": document,
            "definition": definition,
        }

    def document_text(self) -> str:
        """The `document` column: the Task document with its tags, as JSON."""
        return dumps({**self.doc, "tags": self.tags})

    def changes(self, document: str | None = None) -> dict[str, Any]:
        """What a change of the task rewrites in its row (`UPDATE_TASK`'s parameters);
        `document` when the caller has encoded it already."""
        doc = self.doc
        return {"b_id": self.id, "b_last": doc["lastStatus"], "b_desired": doc["desiredStatus"],
                "b_acked": self.acked_status, "b_version": doc["version"],
                "b_stopped_at": doc.get("stoppedAt"), "b_released": self.released,
                "b_document": document or self.document_text()}

    @classmethod
    def from_row(cls, row: Row) -> Task:
        doc = json.loads(row.document)
        tags = doc.pop("tags", [])
        return cls(id=row.id, account_id=row.account_id, region=row.region,
                   cluster=row.cluster, family=row.family, host_id=row.host_id,
                   reservation=Reservation.from_json(json.loads(row.reserved)),
                   definition=json.loads(row.definition), doc=doc,
                   acked_status=row.acked_status, released=row.released, tags=tags)

    def describe(self, include_tags: bool = False) -> dict[str, Any]:
        """The task as DescribeTasks, RunTask and StopTask return it."""
        if not include_tags:
            return self.doc
        return {**self.doc, "tags": list(self.tags)}
