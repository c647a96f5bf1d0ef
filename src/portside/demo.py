"""`portside demo`: the seed's batch pipeline, end to end, against a running portside.

A CSV file lands in an incoming S3 bucket; the bucket sends its events to EventBridge; a rule
matches "Object Created" for keys ending in `.csv` and runs an ECS task with the object's
bucket and key as container overrides; the task's role may only read the incoming bucket,
write the outgoing bucket and send to the results queue; the worker (demo_worker.py) writes a
summary, sends a message, and shows it is denied anything else. Everything is set up with
ordinary API calls, re-used when it is already there, and every stage printed as it happens.
The run passes only if the task really ran and its result and message really arrived.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PREFIX = "portside-demo"
IMAGE = "portside-test/python-boto3:latest"
WORKER = Path(__file__).with_name("demo_worker.py")
CLUSTER = "default"
SUFFIX = ".csv"
LOG_GROUP = f"/ecs/{PREFIX}-worker"
# ECS injects these into the worker (`secrets` of its container definition).
SECRET_NAME = f"{PREFIX}/signing-key"
PARAMETER_NAME = f"/{PREFIX}/currency"
CURRENCY = "EUR"

SAMPLE = [("item", "quantity", "price"), ("espresso", "2", "2.40"), ("croissant", "3", "1.90"),
          ("espresso", "1", "2.40"), ("orange juice", "2", "3.50"), ("croissant", "1", "1.90")]
FORBIDDEN = ("s3:GetObject on s3://", "s3:PutObject on s3://", "sqs:ReceiveMessage")

Echo = Callable[[str], None]


class DemoFailed(Exception):
    """The pipeline did not do what it should; the message says what is missing."""


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@dataclass
class Pipeline:
    """The names and ARNs of what `setup` made or found."""

    account: str
    region: str
    incoming: str
    outgoing: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    rule_name: str
    rule_arn: str
    cluster_arn: str
    task_definition_arn: str
    task_role_arn: str
    signing_key: str | None = None
    secrets: bool = True

    @property
    def started_by(self) -> str:
        return f"events-rule/{self.rule_name}"


@dataclass
class Outcome:
    """What one file's trip through the pipeline produced."""

    key: str
    task: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    result_metadata: dict[str, str] = field(default_factory=dict)
    message: dict[str, Any] | None = None
    dead_letter: dict[str, Any] | None = None


def sample_csv(rows: int = 0) -> bytes:
    """The sample orders, or `rows` generated ones."""
    lines = list(SAMPLE) if not rows else [SAMPLE[0]] + [
        SAMPLE[1 + n % (len(SAMPLE) - 1)] for n in range(rows)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue().encode()


def expected_summary(bucket: str, key: str, body: bytes, currency: str | None) -> dict[str, Any]:
    """What the worker must write for `body`: computed here, independently of the worker."""
    totals: dict[str, Decimal] = {}
    orders = list(csv.DictReader(io.StringIO(body.decode())))
    for order in orders:
        totals[order["item"]] = totals.get(order["item"], Decimal(0)) + \
            int(order["quantity"]) * Decimal(order["price"])
    return {"source": f"s3://{bucket}/{key}", "orders": len(orders), "currency": currency,
            "totals": {k: str(v) for k, v in sorted(totals.items())},
            "total": str(sum(totals.values(), Decimal(0)))}


def output_key(key: str) -> str:
    return "processed/" + key.removeprefix("uploads/").rsplit(".", 1)[0] + ".json"


class Demo:
    """The pipeline's resources in one account and region, through boto3."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str,
                 echo: Echo = print, session_token: str | None = None) -> None:
        self.endpoint = endpoint
        self.echo = echo
        session = boto3.session.Session(aws_access_key_id=access_key,
                                        aws_secret_access_key=secret_key,
                                        aws_session_token=session_token, region_name=region)
        config = Config(retries={"mode": "standard", "total_max_attempts": 3},
                        connect_timeout=5, read_timeout=30)
        self.region = region
        self.client: Callable[[str], Any] = lambda service: session.client(
            service, endpoint_url=endpoint, config=config)
        self.s3, self.sqs, self.iam = self.client("s3"), self.client("sqs"), self.client("iam")
        self.ecs, self.events = self.client("ecs"), self.client("events")

    # -- setting up ---------------------------------------------------------------------------

    def setup(self, *, secrets: bool = True) -> Pipeline:
        """Make (or find) every resource of the pipeline; print one line for each."""
        account = self.client("sts").get_caller_identity()["Account"]
        arn = f"arn:aws:%s:{self.region}:{account}:%s"
        incoming, outgoing = f"{PREFIX}-incoming-{account}", f"{PREFIX}-outgoing-{account}"
        queue_name, dlq_name = f"{PREFIX}-results", f"{PREFIX}-dead-letters"
        rule_name = f"{PREFIX}-object-created"
        rule_arn = arn % ("events", f"rule/{rule_name}")
        queue_arn, dlq_arn = arn % ("sqs", queue_name), arn % ("sqs", dlq_name)

        for bucket, what in ((incoming, "incoming: sends its events to EventBridge"),
                             (outgoing, "outgoing: the worker's results")):
            self._step(f"S3 bucket {bucket} ({what})", self._bucket(bucket))
        self.s3.put_bucket_notification_configuration(
            Bucket=incoming, NotificationConfiguration={"EventBridgeConfiguration": {}})

        task_role = self._role(f"{PREFIX}-task", "ecs-tasks.amazonaws.com", policy(
            allow("s3:GetObject", f"arn:aws:s3:::{incoming}/*"),
            allow("s3:PutObject", f"arn:aws:s3:::{outgoing}/*"),
            allow("sqs:SendMessage", queue_arn)),
            "task role: s3:GetObject on incoming/*, s3:PutObject on outgoing/*, "
            "sqs:SendMessage on the results queue — nothing else")
        queue_url = self._queue(queue_name, policy(
            {"Sid": "worker", "Effect": "Allow", "Principal": {"AWS": task_role},
             "Action": "sqs:SendMessage", "Resource": queue_arn}),
            "results; its policy lets the worker's role send")
        dlq_url = self._queue(dlq_name, policy(
            {"Sid": "eventbridge", "Effect": "Allow",
             "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": dlq_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}),
            "events EventBridge could not deliver; its policy lets the rule send")

        signing_key = None
        secret_refs: list[dict[str, str]] = []
        if secrets:
            secret_arn, signing_key = self._secret()
            parameter_arn = self._parameter()
            secret_refs = [{"name": "SIGNING_KEY", "valueFrom": secret_arn},
                           {"name": "CURRENCY", "valueFrom": parameter_arn}]
        execution_role = self._role(f"{PREFIX}-execution", "ecs-tasks.amazonaws.com", policy(
            allow("secretsmanager:GetSecretValue", arn % ("secretsmanager",
                                                          f"secret:{SECRET_NAME}-*")),
            allow("ssm:GetParameters", arn % ("ssm", f"parameter{PARAMETER_NAME}")),
            allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                  arn % ("logs", f"log-group:{LOG_GROUP}:*"))),
            "execution role: reads the secret and the parameter, writes the worker's logs")
        self._log_group()
        definition = self._task_definition(task_role, execution_role, outgoing, queue_url,
                                           secret_refs)
        cluster_arn = self.ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
        if not cluster_arn or cluster_arn[0]["status"] != "ACTIVE":
            raise DemoFailed(f"ECS cluster {CLUSTER!r} is not there: portside's local agent "
                             "creates it when a Docker Engine answers (see docs/agent.md)")
        cluster_arn = cluster_arn[0]["clusterArn"]
        events_role = self._role(f"{PREFIX}-events", "events.amazonaws.com", policy(
            allow("ecs:RunTask", definition.rsplit(":", 1)[0] + ":*",
                  Condition={"ArnEquals": {"ecs:cluster": cluster_arn}}),
            allow("iam:PassRole", [task_role, execution_role],
                  Condition={"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})),
            "EventBridge's role for the target: ecs:RunTask of the worker, iam:PassRole")
        self._rule(rule_name, incoming, cluster_arn, definition, events_role, dlq_arn)
        return Pipeline(account, self.region, incoming, outgoing, queue_url, queue_arn, dlq_url,
                        rule_name, rule_arn, cluster_arn, definition, task_role, signing_key,
                        secrets)

    def _step(self, what: str, created: bool | None) -> None:
        state = {True: "created", False: "exists", None: "updated"}[created]
        self.echo(f"  ✓ {what} [{state}]")

    def _bucket(self, name: str) -> bool:
        try:
            self.s3.head_bucket(Bucket=name)
            return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
        self.s3.create_bucket(Bucket=name)
        return True

    def _queue(self, name: str, queue_policy: str, what: str) -> str:
        try:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            created = False
        except ClientError as exc:
            if "NonExistentQueue" not in exc.response["Error"]["Code"]:
                raise
            url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
            created = True
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy})
        self._step(f"SQS queue {name} ({what})", created)
        return url

    def _role(self, name: str, service: str, permissions: str, what: str) -> str:
        try:
            found = self.iam.get_role(RoleName=name)["Role"]
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust(service))
            created = False
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            found = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service),
                                         Description=f"{PREFIX}: {what}".replace("—", "-"))["Role"]
            created = True
        self.iam.put_role_policy(RoleName=name, PolicyName="pipeline",
                                 PolicyDocument=permissions)
        self._step(f"IAM role {name}, trusts {service} ({what})", created)
        return str(found["Arn"])

    def _secret(self) -> tuple[str, str]:
        sm = self.client("secretsmanager")
        try:
            found = sm.describe_secret(SecretId=SECRET_NAME)
            arn, created = found["ARN"], False
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            value = sm.get_random_password(PasswordLength=32, ExcludePunctuation=True)[
                "RandomPassword"]
            arn = sm.create_secret(Name=SECRET_NAME, SecretString=value,
                                   Description="the worker signs its results with it")["ARN"]
            created = True
        value = sm.get_secret_value(SecretId=arn)["SecretString"]
        self._step(f"Secrets Manager secret {SECRET_NAME} (the worker's SIGNING_KEY)", created)
        return arn, value

    def _parameter(self) -> str:
        ssm = self.client("ssm")
        try:
            ssm.get_parameter(Name=PARAMETER_NAME)
            created = False
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterNotFound":
                raise
            ssm.put_parameter(Name=PARAMETER_NAME, Value=CURRENCY, Type="SecureString")
            created = True
        arn = ssm.get_parameter(Name=PARAMETER_NAME)["Parameter"]["ARN"]
        self._step(f"SSM parameter {PARAMETER_NAME}, SecureString (the worker's CURRENCY)",
                   created)
        return str(arn)

    def _log_group(self) -> None:
        logs = self.client("logs")
        created = True
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
            created = False
        logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
        self._step(f"CloudWatch Logs group {LOG_GROUP} (the worker's output, via awslogs)",
                   created)

    def _task_definition(self, task_role: str, execution_role: str, outgoing: str,
                         queue_url: str, secret_refs: list[dict[str, str]]) -> str:
        """The worker's task definition: a new revision only when it changed (its spec's hash
        is a tag of each revision)."""
        family = f"{PREFIX}-worker"
        container: dict[str, Any] = {
            "name": "worker", "image": IMAGE, "essential": True,
            "memoryReservation": 64, "memory": 512,
            "command": ["python3", "-c", WORKER.read_text()],
            "environment": [{"name": "OUTGOING_BUCKET", "value": outgoing},
                            {"name": "QUEUE_URL", "value": queue_url}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": LOG_GROUP, "awslogs-region": self.region,
                "awslogs-stream-prefix": "worker"}},
        }
        if secret_refs:
            container["secrets"] = secret_refs
        spec = {"family": family, "taskRoleArn": task_role, "executionRoleArn": execution_role,
                "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [container]}
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        with contextlib.suppress(ClientError):
            found = self.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
            tags = {t["key"]: t["value"] for t in found.get("tags") or []}
            if tags.get("spec") == digest and found["taskDefinition"]["status"] == "ACTIVE":
                arn = found["taskDefinition"]["taskDefinitionArn"]
                self._step(f"ECS task definition {arn.rsplit('/', 1)[1]} ({IMAGE})", False)
                return str(arn)
        arn = self.ecs.register_task_definition(**spec, tags=[{"key": "spec", "value": digest}])[
            "taskDefinition"]["taskDefinitionArn"]
        self._step(f"ECS task definition {arn.rsplit('/', 1)[1]} ({IMAGE}, the worker's code "
                   "as its command)", True)
        return str(arn)

    def _rule(self, name: str, incoming: str, cluster_arn: str, definition: str,
              events_role: str, dlq_arn: str) -> None:
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
                   "detail": {"bucket": {"name": [incoming]},
                              "object": {"key": [{"suffix": SUFFIX}]}}}
        created = True
        with contextlib.suppress(ClientError):
            self.events.describe_rule(Name=name)
            created = False
        self.events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED",
                             Description=f"{PREFIX}: run the worker for each new CSV file")
        template = ('{"containerOverrides": [{"name": "worker", "environment": ['
                    '{"name": "S3_BUCKET", "value": <bucket>}, '
                    '{"name": "S3_KEY", "value": <key>}]}]}')
        answer = self.events.put_targets(Rule=name, Targets=[{
            "Id": "worker", "Arn": cluster_arn, "RoleArn": events_role,
            "EcsParameters": {"TaskDefinitionArn": definition, "TaskCount": 1,
                              "LaunchType": "EC2"},
            "InputTransformer": {"InputPathsMap": {"bucket": "$.detail.bucket.name",
                                                   "key": "$.detail.object.key"},
                                 "InputTemplate": template},
            "RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 600},
            "DeadLetterConfig": {"Arn": dlq_arn}}])
        if answer["FailedEntryCount"]:
            raise DemoFailed(f"EventBridge refused the ECS target: {answer['FailedEntries']}")
        self._step(f"EventBridge rule {name} (Object Created in {incoming}, keys ending "
                   f"{SUFFIX} → RunTask of the worker on cluster {CLUSTER}, object key as a "
                   "container override)", created)

    # -- running ------------------------------------------------------------------------------

    def upload(self, pipeline: Pipeline, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=pipeline.incoming, Key=key, Body=body)

    def tasks_started(self, pipeline: Pipeline) -> dict[str, dict[str, Any]]:
        """The rule's tasks (running or stopped) by the S3 key in their overrides."""
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED"):
            pages = self.ecs.get_paginator("list_tasks").paginate(
                cluster=CLUSTER, startedBy=pipeline.started_by, desiredStatus=status)
            arns += [arn for page in pages for arn in page["taskArns"]]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(arns), 100):
            for task in self.ecs.describe_tasks(cluster=CLUSTER,
                                                tasks=arns[start:start + 100])["tasks"]:
                env = {e["name"]: e["value"] for o in task["overrides"]["containerOverrides"]
                       for e in o.get("environment") or []}
                if "S3_KEY" in env:
                    found.setdefault(env["S3_KEY"], task)
        return found

    def messages(self, url: str) -> Iterator[dict[str, Any]]:
        """Every message on the queue now (each deleted once read), as JSON."""
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                return
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)])
            for message in got:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = {"unreadable": message["Body"]}
                if isinstance(body, dict):
                    yield {**body, "_attributes": message.get("MessageAttributes") or {}}

    def result(self, pipeline: Pipeline, key: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        try:
            found = self.s3.get_object(Bucket=pipeline.outgoing, Key=output_key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return json.loads(found["Body"].read()), found.get("Metadata") or {}

    def logs(self, task: dict[str, Any]) -> list[str]:
        """The worker's log lines in CloudWatch Logs (awslogs), if the task's logs are there."""
        stream = f"worker/worker/{task['taskArn'].rsplit('/', 1)[1]}"
        with contextlib.suppress(ClientError):
            found = self.client("logs").get_log_events(logGroupName=LOG_GROUP,
                                                       logStreamName=stream, startFromHead=True)
            return [e["message"] for e in found["events"]]
        return []

    def clean_up(self) -> None:
        """Delete everything `setup` makes."""
        account = self.client("sts").get_caller_identity()["Account"]
        rule = f"{PREFIX}-object-created"
        with contextlib.suppress(ClientError):
            self.events.remove_targets(Rule=rule, Ids=["worker"])
            self.events.delete_rule(Name=rule)
        for bucket in (f"{PREFIX}-incoming-{account}", f"{PREFIX}-outgoing-{account}"):
            with contextlib.suppress(ClientError):
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for obj in page.get("Contents", []):
                        self.s3.delete_object(Bucket=bucket, Key=obj["Key"])
                self.s3.delete_bucket(Bucket=bucket)
        for queue in (f"{PREFIX}-results", f"{PREFIX}-dead-letters"):
            with contextlib.suppress(ClientError):
                self.sqs.delete_queue(QueueUrl=self.sqs.get_queue_url(QueueName=queue)[
                    "QueueUrl"])
        for role in ("task", "execution", "events"):
            with contextlib.suppress(ClientError):
                self.iam.delete_role_policy(RoleName=f"{PREFIX}-{role}", PolicyName="pipeline")
                self.iam.delete_role(RoleName=f"{PREFIX}-{role}")
        with contextlib.suppress(ClientError):
            arns = self.ecs.list_task_definitions(familyPrefix=f"{PREFIX}-worker")[
                "taskDefinitionArns"]
            for arn in arns:
                self.ecs.deregister_task_definition(taskDefinition=arn)
        with contextlib.suppress(ClientError):
            self.client("secretsmanager").delete_secret(SecretId=SECRET_NAME,
                                                         ForceDeleteWithoutRecovery=True)
        with contextlib.suppress(ClientError):
            self.client("ssm").delete_parameter(Name=PARAMETER_NAME)
        self.echo("  ✓ removed the demo's buckets, queues, roles, rule, task definitions, "
                  "secret and parameter")


# -- the demo run ------------------------------------------------------------------------------


def run(demo: Demo, *, timeout: float = 120.0, secrets: bool = True) -> Outcome:
    """Set up, upload a file the rule ignores and one it matches, follow the CSV file through
    the pipeline and check every stage. Raises DemoFailed saying what did not happen."""
    echo = demo.echo
    echo("Setting up (re-using what an earlier run made)")
    pipeline = demo.setup(secrets=secrets)
    run_id = uuid.uuid4().hex[:8]
    ignored, key = f"uploads/{run_id}/notes.txt", f"uploads/{run_id}/orders.csv"
    body = sample_csv()
    list(demo.messages(pipeline.queue_url))  # results of earlier runs
    list(demo.messages(pipeline.dead_letter_url))
    echo(f"\nRunning (run {run_id})")
    clock = Clock(echo)
    demo.upload(pipeline, ignored, b"not a CSV file: the rule's key filter ignores it\n")
    clock.say(f"uploaded s3://{pipeline.incoming}/{ignored} (no task should start for it)")
    demo.upload(pipeline, key, body)
    clock.say(f"uploaded s3://{pipeline.incoming}/{key} ({len(body)} bytes, "
              f"{len(SAMPLE) - 1} orders)")
    outcome = follow(demo, pipeline, key, clock, timeout)

    echo("\nChecks")
    check(outcome, pipeline, body, echo)
    started = demo.tasks_started(pipeline)
    if ignored in started:
        raise DemoFailed(f"a task ran for {ignored}, which the rule's key filter excludes")
    echo(f"  ✓ the rule ran no task for {ignored} (key filter *{SUFFIX})")
    lines = demo.logs(outcome.task or {})
    if not any("sent the result to the queue" in line for line in lines):
        raise DemoFailed(f"the worker's output is not in CloudWatch Logs {LOG_GROUP} "
                         f"(found {len(lines)} lines)")
    echo(f"  ✓ the worker's output is in CloudWatch Logs {LOG_GROUP}:")
    for line in lines:
        echo(f"      {line}")
    return outcome


class Clock:
    """Prints each stage with the seconds since the first upload."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.start = time.monotonic()

    def say(self, what: str) -> None:
        self.echo(f"  +{time.monotonic() - self.start:6.2f}s  {what}")


def follow(demo: Demo, pipeline: Pipeline, key: str, clock: Clock,
           timeout: float) -> Outcome:
    """Watch one file: its task's states, its result in the outgoing bucket, its message on
    the queue; stop early on a dead letter or a failed task."""
    outcome = Outcome(key)
    seen_status = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = demo.tasks_started(pipeline).get(key)
        if task is not None:
            outcome.task = task
            if task["lastStatus"] != seen_status:
                seen_status = task["lastStatus"]
                clock.say(describe_task(task, pipeline))
            if seen_status == "STOPPED" and exit_code(task) != 0:
                raise DemoFailed(f"the worker's task failed: {stop_reason(task)}")
        if outcome.result is None:
            found = demo.result(pipeline, key)
            if found is not None:
                outcome.result, outcome.result_metadata = found
                clock.say(f"result s3://{pipeline.outgoing}/{output_key(key)}: "
                          f"{outcome.result['orders']} orders, total "
                          f"{outcome.result['total']} {outcome.result.get('currency') or ''}")
        for message in demo.messages(pipeline.queue_url):
            if message.get("input") == f"s3://{pipeline.incoming}/{key}":
                outcome.message = message
                clock.say(f"message on {pipeline.queue_url.rsplit('/', 1)[1]}: worker took "
                          f"{message.get('seconds')} s")
        for letter in demo.messages(pipeline.dead_letter_url):
            attributes = {k: v.get("StringValue") for k, v in letter["_attributes"].items()}
            raise DemoFailed(f"EventBridge could not run the worker: "
                             f"{attributes.get('ERROR_CODE')}: {attributes.get('ERROR_MESSAGE')}")
        if outcome.message and outcome.result and seen_status == "STOPPED":
            return outcome
        time.sleep(0.1)
    missing = [what for what, there in (
        (f"a task started by {pipeline.started_by}", outcome.task),
        ("its STOPPED state", seen_status == "STOPPED"),
        (f"the result s3://{pipeline.outgoing}/{output_key(key)}", outcome.result),
        ("the worker's message on the queue", outcome.message)) if not there]
    raise DemoFailed(f"after {timeout:.0f} s still no {', no '.join(missing)}")


def describe_task(task: dict[str, Any], pipeline: Pipeline) -> str:
    short = task["taskArn"].rsplit("/", 1)[1]
    if task["lastStatus"] == "STOPPED":
        return f"task {short} STOPPED: {stop_reason(task)}"
    return f"task {short} {task['lastStatus']} (started by {task.get('startedBy')})"


def exit_code(task: dict[str, Any]) -> int | None:
    return next((c.get("exitCode") for c in task["containers"] if c["name"] == "worker"), None)


def stop_reason(task: dict[str, Any]) -> str:
    reasons = [task.get("stoppedReason") or "no reason given"]
    for container in task["containers"]:
        if container.get("reason") and container["reason"] not in reasons:
            reasons.append(f"{container['name']}: {container['reason']}")
        if container.get("exitCode") is not None:
            reasons.append(f"exit code {container['exitCode']}")
    return "; ".join(reasons)


def check(outcome: Outcome, pipeline: Pipeline, body: bytes, echo: Echo) -> None:
    """Each claim the demo makes, checked against what really happened."""
    assert outcome.task and outcome.result and outcome.message
    key = outcome.key
    if exit_code(outcome.task) != 0:
        raise DemoFailed(f"the worker exited with {exit_code(outcome.task)}")
    role = outcome.task.get("overrides", {}).get("taskRoleArn") or pipeline.task_role_arn
    echo(f"  ✓ EventBridge ran task {outcome.task['taskArn'].rsplit('/', 1)[1]} for {key}; "
         "the worker exited 0")
    expected = expected_summary(pipeline.incoming, key, body,
                                CURRENCY if pipeline.secrets else None)
    if outcome.result != expected:
        raise DemoFailed(f"the result is not the expected summary: {outcome.result} != "
                         f"{expected}")
    echo(f"  ✓ s3://{pipeline.outgoing}/{output_key(key)} is the expected summary "
         f"(total {expected['total']})")
    if pipeline.secrets:
        if expected["currency"] != CURRENCY:
            raise DemoFailed("the SSM parameter did not reach the worker")
        signature = hmac.new((pipeline.signing_key or "").encode(),
                             json.dumps(expected, indent=2, sort_keys=True).encode(),
                             hashlib.sha256).hexdigest()
        if outcome.message.get("signature") != signature:
            raise DemoFailed("the result is not signed with the Secrets Manager secret: "
                             "the secret did not reach the worker")
        echo(f"  ✓ the secret {SECRET_NAME} reached the worker as SIGNING_KEY (its HMAC of "
             f"the result checks out) and the SSM parameter {PARAMETER_NAME} as CURRENCY")
    else:
        echo("  - no secrets injected (run with --secrets to pass a Secrets Manager secret and "
             "an SSM parameter to the worker)")
    if outcome.message.get("output") != f"s3://{pipeline.outgoing}/{output_key(key)}":
        raise DemoFailed(f"the queue message names another output: {outcome.message}")
    echo(f"  ✓ the worker's message on the queue names its result (role {role.rsplit('/')[-1]})")
    denied = outcome.message.get("denied") or {}
    allowed = [call for call, code in denied.items() if code == "ALLOWED"]
    if allowed or len(denied) < len(FORBIDDEN):
        raise DemoFailed(f"least privilege broken: the worker's role was allowed {allowed}")
    for call, code in denied.items():
        echo(f"  ✓ the worker was denied {call} ({code})")


def endpoint_answers(endpoint: str) -> str | None:
    """Why `endpoint` does not answer, or None when it does."""
    import urllib.request

    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/_portside/health", timeout=3):
            return None
    except OSError as exc:
        return str(exc)



