"""ECS tables: clusters, capacity providers, container instances, Fargate hosts and tasks.

Columns hold what is filtered or indexed; nested AWS structures (settings, resources,
containers, attachments, tags) are JSON text in AWS's own shape. `ecs_revisions` counts the
changes to each placement scope (a cluster's instances and tasks, or portside's Fargate
capacity): a process that caches a scope in memory compares revisions before trusting its
copy, as kine compares revisions before an update.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from portside.store import metadata

clusters = Table(
    "ecs_clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | INACTIVE
    Column("created_at", Float, nullable=False),
    Column("settings", Text, nullable=False),  # JSON [{name, value}]
    Column("configuration", Text),  # JSON ClusterConfiguration
    Column("service_connect_defaults", Text),  # JSON {namespace}
    Column("capacity_providers", Text, nullable=False),  # JSON [name]
    Column("default_strategy", Text, nullable=False),  # JSON [{capacityProvider, weight, base}]
    Column("tags", Text, nullable=False),  # JSON [{key, value}]
    UniqueConstraint("account_id", "region", "name", name="uq_ecs_cluster_name"),
)

capacity_providers = Table(
    "ecs_capacity_providers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | INACTIVE
    Column("update_status", String(32)),
    Column("auto_scaling_group_provider", Text),  # JSON, kept as given (no ASGs in portside)
    Column("tags", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_ecs_capacity_provider_name"),
)

container_instances = Table(
    "ecs_container_instances",
    metadata,
    Column("id", String(32), primary_key=True),  # the id part of its ARN
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster", String(255), nullable=False),
    Column("ec2_instance_id", String(32), nullable=False),
    Column("status", String(24), nullable=False),
    Column("status_reason", Text),
    Column("agent_connected", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_info", Text, nullable=False),  # JSON VersionInfo
    Column("registered_resources", Text, nullable=False),  # JSON [Resource]
    Column("attributes", Text, nullable=False),  # JSON {name: value | null}
    Column("platform_devices", Text, nullable=False),  # JSON [PlatformDevice]
    Column("tags", Text, nullable=False),
    Column("capacity_provider_name", String(255)),
    Column("registered_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_ecs_instances_cluster", "account_id", "region", "cluster"),
)

# portside's own Fargate capacity: hosts whose agents run FARGATE tasks of every account.
fargate_hosts = Table(
    "ecs_fargate_hosts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("zones", Text, nullable=False),  # JSON [zone suffix], e.g. ["a", "b", "c"]
    Column("cpu", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("agent_connected", Boolean, nullable=False),
    Column("registered_at", Float, nullable=False),
)

# Written out, not a bound parameter: a query uses the partial index below only when it says
# the same.
FARGATE_TASKS = text("launch_type = 'FARGATE'")

tasks = Table(
    "ecs_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster", String(255), nullable=False),
    Column("task_definition_arn", String(1024), nullable=False),
    Column("family", String(255), nullable=False),
    Column("host_id", String(32)),  # the container instance or Fargate host that runs it
    Column("launch_type", String(16)),
    Column("capacity_provider_name", String(255)),
    Column("group", String(255), nullable=False),
    Column("started_by", String(128)),
    Column("last_status", String(16), nullable=False),
    Column("desired_status", String(16), nullable=False),
    # The desired status the host's agent last acknowledged: None until it first has the task.
    Column("acked_status", String(16)),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("stopped_at", Float),  # indexed copy of the document's stoppedAt: the purge uses it
    Column("released", Boolean, nullable=False),  # its host resources are free again
    Column("reserved", Text, nullable=False),  # JSON {cpu, memory, ports, portsUdp}
    Column("document", Text, nullable=False),  # JSON: the Task as DescribeTasks shows it
    Column("definition", Text, nullable=False),  # JSON: the task definition it runs, resolved
    Index("ix_ecs_tasks_cluster", "account_id", "region", "cluster", "desired_status"),
    # Only Fargate tasks (what loading portside's Fargate capacity looks for): a container
    # instance's tasks are found through its host in memory, and a new EC2 task's row skips
    # this index, whose entries by host landed on random pages (3 of a RunTask's 25 writes).
    Index("ix_ecs_tasks_host", "host_id", "released", sqlite_where=FARGATE_TASKS,
          postgresql_where=FARGATE_TASKS),
    # Only stopped tasks (what the purge looks for): a new task's row skips this index.
    Index("ix_ecs_tasks_stopped", "stopped_at", sqlite_where=text("stopped_at IS NOT NULL"),
          postgresql_where=text("stopped_at IS NOT NULL")),
)

client_tokens = Table(
    "ecs_client_tokens",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("cluster", String(255), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),  # JSON {taskArns, failures}
    Column("created_at", Float, nullable=False),
)

revisions = Table(
    "ecs_revisions",
    metadata,
    Column("scope", String(320), primary_key=True),
    Column("revision", Integer, nullable=False),
)
