"""`portside demo` against a fresh server with its Docker agent: the seed's pipeline runs end to
end (S3 upload → EventBridge rule → ECS task on Docker, a secret and a parameter injected, its
output shipped to CloudWatch Logs → S3 result and SQS message), twice in a row re-using what the
first run made, and fails with a clear message when it cannot run. The example script in
examples/batch-pipeline/ runs the same pipeline with plain boto3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ecs_support import wait_for
from server import PortsideServer

from portside.agent.docker_agent import agent_key

pytestmark = pytest.mark.docker


def _demo(endpoint: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portside", "demo", "--endpoint", endpoint,
                           *args], capture_output=True, text=True, timeout=timeout)


def _connected(server: PortsideServer) -> bool:
    ecs = server.client("ecs")
    try:
        arns = ecs.list_container_instances()["containerInstanceArns"]
    except Exception:  # the agent is still creating the default cluster
        return False
    return bool(arns) and all(i["agentConnected"] for i in ecs.describe_container_instances(
        containerInstances=arns)["containerInstances"])


def _remove_containers(data: Path) -> None:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                          f"label=portside.agent={agent_key(data / 'agent')}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_available, python_boto3_image):
    data = tmp_path_factory.mktemp("demo") / "data"
    started = PortsideServer(data).start()
    try:
        wait_for(lambda: _connected(started), timeout=30)
        yield started
    finally:
        started.stop()
        _remove_containers(data)


def test_the_demo_runs_the_pipeline_end_to_end_and_again(server):
    first = _demo(server.endpoint)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "EventBridge rule portside-demo-object-created" in out and "[created]" in out
    assert "task " in out and "STOPPED: Essential container in task exited" in out
    assert "exit code 0" in out
    assert "is the expected summary (total 21.80)" in out
    assert "the worker's message on the queue names its result" in out
    assert out.count("✓ the worker was denied") == 3 and "ALLOWED" not in out
    assert "the rule ran no task for uploads/" in out
    assert "reached the worker as SIGNING_KEY (its HMAC of the result checks out)" in out
    assert "the worker's output is in CloudWatch Logs /ecs/portside-demo-worker" in out
    assert "sent the result to the queue" in out.rsplit("CloudWatch Logs", 1)[1]

    second = _demo(server.endpoint)
    assert second.returncode == 0, second.stdout + second.stderr
    setup = second.stdout.split("Running")[0]
    assert "[created]" not in setup and setup.count("[exists]") >= 8, setup
    ecs = server.client("ecs")
    assert ecs.list_task_definitions(familyPrefix="portside-demo-worker")[
        "taskDefinitionArns"] == [first_revision(out)]
    s3 = server.client("s3")
    results = s3.list_objects_v2(Bucket="portside-demo-outgoing-000000000000",
                                 Prefix="processed/")["KeyCount"]
    assert results == 2


def first_revision(out: str) -> str:
    name = out.split("ECS task definition ", 1)[1].split(" ", 1)[0]
    return f"arn:aws:ecs:us-east-1:000000000000:task-definition/{name}"


def test_clean_up_removes_what_the_demo_made(server):
    assert _demo(server.endpoint).returncode == 0
    cleaned = _demo(server.endpoint, "--clean-up")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert server.client("events").list_rules(NamePrefix="portside-demo")["Rules"] == []
    assert not [b for b in server.client("s3").list_buckets()["Buckets"]
                if b["Name"].startswith("portside-demo")]
    assert not [r for r in server.client("iam").list_roles()["Roles"]
                if r["RoleName"].startswith("portside-demo")]
    again = _demo(server.endpoint)  # and a run after the clean-up makes it all again
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_demo_fails_clearly_without_a_server():
    from server import free_port

    failed = _demo(f"http://127.0.0.1:{free_port()}", timeout=30)
    assert failed.returncode == 1
    assert "portside is not answering at" in failed.stderr


def test_the_demo_fails_clearly_without_a_docker_agent(tmp_path):
    """No local agent: no `default` cluster to run the worker on; the demo says so and exits
    non-zero instead of waiting or pretending."""
    bare = PortsideServer(tmp_path / "data", env={"PORTSIDE_LOCAL_AGENTS": "none"}).start()
    try:
        failed = _demo(bare.endpoint, timeout=60)
    finally:
        bare.stop()
    assert failed.returncode == 1, failed.stdout
    assert "FAILED: ECS cluster 'default' is not there" in failed.stderr


EXAMPLE = Path(__file__).parents[2] / "examples" / "batch-pipeline"


def test_the_example_script_runs_the_same_pipeline_with_plain_boto3(server):
    """examples/batch-pipeline/pipeline.py, as a user runs it (AWS_ENDPOINT_URL and the
    default credentials in the environment); its worker is the demo's."""
    assert (EXAMPLE / "worker.py").read_text() == \
        (Path(__file__).parents[2] / "src" / "portside" / "demo_worker.py").read_text()
    env = server.cli_env()
    ran = subprocess.run([sys.executable, str(EXAMPLE / "pipeline.py")], env=env,
                         capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"total": "10.50"' in ran.stdout and '"currency": "EUR"' in ran.stdout
    assert '"denied"' in ran.stdout and "ALLOWED" not in ran.stdout
    deleted = subprocess.run([sys.executable, str(EXAMPLE / "pipeline.py"), "--delete"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert deleted.returncode == 0, deleted.stderr
    assert server.client("events").list_rules(NamePrefix="batch-example")["Rules"] == []
