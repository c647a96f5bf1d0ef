"""Task definitions as RunTask resolves them in-process: which revision a reference names,
and that only an ACTIVE one runs."""

from __future__ import annotations

import pytest

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime

ACCOUNT = "000000000000"
CTX = RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), None, "req", "127.0.0.1")
ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web"


@pytest.fixture
def ecs(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    ecs = runtime.services["ecs"]
    for _ in range(3):
        ecs.register_task_definition(CTX, {"family": "web", "containerDefinitions": [
            {"name": "app", "image": "busybox", "memory": 64}]})
    ecs.deregister_task_definition(CTX, {"taskDefinition": "web:3"})
    yield ecs
    runtime.close()


@pytest.mark.parametrize("reference, revision", [
    ("web", 2), ("web:1", 1), (f"{ARN}:2", 2),
])
def test_run_resolves_a_family_to_its_latest_active_revision(ecs, reference, revision):
    found = ecs.task_definition_for_run(CTX, reference)
    assert (found["revision"], found["status"]) == (revision, "ACTIVE")
    assert found["containerDefinitions"][0]["essential"] is True


@pytest.mark.parametrize("reference, message", [
    ("web:3", "TaskDefinition is inactive"),
    ("web:4", "TaskDefinition not found."),
    ("nope", "TaskDefinition not found."),
    ("arn:aws:ecs:us-east-1:111111111111:task-definition/web:1", "TaskDefinition not found."),
    ("not a reference", "TaskDefinition not found."),
])
def test_run_refuses_what_cannot_run(ecs, reference, message):
    with pytest.raises(AwsError) as info:
        ecs.task_definition_for_run(CTX, reference)
    assert (info.value.code, info.value.message) == ("ClientException", message)


def test_a_deleted_revision_does_not_run(ecs):
    ecs.delete_task_definitions(CTX, {"taskDefinitions": ["web:3"]})
    with pytest.raises(AwsError) as info:
        ecs.task_definition_for_run(CTX, "web:3")
    assert info.value.message == "TaskDefinition is inactive"
