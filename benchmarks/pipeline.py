"""Pipeline benchmark: how long from an S3 upload's response until the container of the ECS task
that the upload's EventBridge rule starts does its first thing, against the bare launch latency
(RunTask → first request) of the same task in the same run.

portside runs as `portside up` with its in-process Docker agent (launch.py's `portside_target`).
The task is launch.py's: busybox on the host network fetching a URL of this benchmark, the clock
stopping when the request arrives (launch.py's `Arrivals`). The event path: a bucket with
EventBridge notifications, a rule on its "Object Created" events with an ECS target (a role
EventBridge assumes, allowed ecs:RunTask) whose InputTransformer puts the object key into the
container's command, so each upload's container fetches `/<key>`. The clock starts when
put_object returns. Uploads and plain RunTask launches take turns, so both see the same machine.

Usage: ``python benchmarks/pipeline.py [--runs N] [--no-write]``. Needs a Docker Engine and
`portside-test/busybox:latest` (scripts/setup.sh). Replaces the "Pipeline" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

import docker
from common import format_spread, machine_info, make_client, markdown_table, median, write_section
from launch import (
    CONTAINER,
    FAMILY,
    LAUNCH_TIMEOUT,
    Arrivals,
    Target,
    portside_target,
    remove_containers,
    settle,
    single,
)

GOAL_MS = 50.0
BUCKET = "bench-incoming"
RULE = "bench-object-created"


def event_path(target: Target, arrivals: Arrivals) -> Any:
    """The bucket, the role and the rule; returns the function timing one upload."""
    assert target.server is not None
    endpoint = target.server.endpoint
    s3, iam, events = (make_client(s, endpoint) for s in ("s3", "iam", "events"))
    ecs = make_client("ecs", endpoint)
    definition = ecs.describe_task_definition(taskDefinition=FAMILY)["taskDefinition"]
    cluster = ecs.describe_clusters(clusters=["default"])["clusters"][0]["clusterArn"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    role = iam.create_role(RoleName="bench-events", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="bench-events", PolicyName="run", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*"}]}))
    events.put_rule(Name=RULE, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}}}))
    # The key lands inside the command's URL (a placeholder inside a JSON string).
    template = json.dumps({"containerOverrides": [{
        "name": CONTAINER, "command": arrivals.command("KEY")}]}).replace('/KEY"', '/<key>"')
    answer = events.put_targets(Rule=RULE, Targets=[{
        "Id": "task", "Arn": cluster, "RoleArn": role,
        "EcsParameters": {"TaskDefinitionArn": definition["taskDefinitionArn"],
                          "LaunchType": "EC2"},
        "InputTransformer": {
            "InputPathsMap": {"key": "$.detail.object.key"},
            "InputTemplate": template}}])
    assert answer["FailedEntryCount"] == 0, answer

    def upload() -> tuple[float, float]:
        """Seconds from the PUT's answer to the container's request, and to the task's
        creation by the rule's RunTask (EventBridge's own part of the path)."""
        key = f"up-{uuid.uuid4().hex}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        answered, answered_at = time.perf_counter(), time.time()
        first = arrivals.wait(key, 1, LAUNCH_TIMEOUT) - answered
        return first, task_created(ecs, key) - answered_at

    return upload


def task_created(ecs: Any, key: str) -> float:
    """When the task the rule started for `key` was created (RunTask's time, server clock;
    the server runs on this machine)."""
    for status in ("RUNNING", "STOPPED"):
        arns = ecs.list_tasks(startedBy=f"events-rule/{RULE}", desiredStatus=status)["taskArns"]
        for start in range(0, len(arns), 100):
            for task in ecs.describe_tasks(tasks=arns[start:start + 100])["tasks"]:
                if key in json.dumps(task["overrides"]):
                    return float(task["createdAt"].timestamp())
    raise LookupError(f"no task of the rule names {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="uploads (and launches) timed")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()
    machine = machine_info()
    engine = docker.DockerClient.from_env(version="auto")
    arrivals = Arrivals()
    launches: list[float] = []
    uploads: list[float] = []
    dispatches: list[float] = []  # PUT answered → the rule's RunTask
    load = os.getloadavg()[0]
    with portside_target() as target:
        try:
            upload = event_path(target, arrivals)
            for _ in range(2):  # warm both paths: clients, role session, first-call imports
                single(target, arrivals)
                settle(engine, [target])
                upload()
                settle(engine, [target])
            for run in range(args.runs):
                # Take turns, who goes first alternating.
                for launch in (True, False)[::1 if run % 2 else -1]:
                    if launch:
                        launches.append(single(target, arrivals))
                    else:
                        first, dispatch = upload()
                        uploads.append(first)
                        dispatches.append(dispatch)
                    settle(engine, [target])
        finally:
            remove_containers(engine, target)
    launch_ms, upload_ms = median(launches) * 1000, median(uploads) * 1000
    extra = upload_ms - launch_ms
    turns = [(u - lt) * 1000 for u, lt in zip(uploads, launches, strict=True)]
    rows = [["RunTask → first request", format_spread([x * 1000 for x in launches], 0)],
            ["S3 PUT answered → first request (EventBridge rule → ECS RunTask)",
             format_spread([x * 1000 for x in uploads], 0)],
            ["of which: S3 PUT answered → the rule's RunTask (task createdAt)",
             format_spread([x * 1000 for x in dispatches], 0)]]
    verdict = "met" if extra <= GOAL_MS else "not met"
    body = "\n".join([
        machine, "",
        f"`python benchmarks/pipeline.py --runs {args.runs}` · load average {load:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end", "",
        "Busybox on the host network fetching a URL of the benchmark (launch.py's task and "
        "clock), `portside up` with its in-process Docker agent. The event path: S3 bucket with "
        "EventBridge notifications → rule on Object Created → ECS target (role assumed as "
        "events.amazonaws.com) whose InputTransformer puts the key into the command. Uploads "
        "and plain RunTask launches take turns.", "",
        markdown_table(["path", f"ms, median (min–max) of {args.runs}"], rows), "",
        f"Event path − launch: {extra:+.0f} ms (of medians); median of the turns' differences "
        f"{median(turns):+.0f} ms. Goal ≤ +{GOAL_MS:.0f} ms: {verdict}. EventBridge's own "
        f"part (PUT answered → RunTask) has a median of {median(dispatches) * 1000:.0f} ms (it "
        "can be below 0: the event is on its way while the PUT's answer travels back); the "
        "rest of either path is the agent and Docker starting the container, which varies with "
        "the machine's load far more than that.",
    ])
    print(body)
    if not args.no_write:
        write_section("Pipeline", body)


if __name__ == "__main__":
    sys.exit(main())
