"""The seed's batch pipeline with plain boto3: set it up, upload a CSV file, wait for the result.

    S3 upload (incoming bucket) ─▶ EventBridge rule "Object Created", key *.csv
        ─▶ ECS RunTask of worker.py (object key as a container override)
        ─▶ result in the outgoing bucket + a message on the SQS queue

Run it against portside (`portside up` in another shell):

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
    AWS_DEFAULT_REGION=us-east-1 python examples/batch-pipeline/pipeline.py

Every step is an ordinary API call that works the same on AWS (there, point IMAGE at an image
in your ECR repository and CLUSTER at a cluster with capacity). Re-running it re-uses what is
there. `python pipeline.py --delete` removes it all.
"""

import contextlib
import json
import sys
import time
import uuid
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

NAME = "batch-example"
IMAGE = "portside-test/python-boto3:latest"  # Debian python3 + boto3, built by scripts/setup.sh
CLUSTER = "default"
LOG_GROUP = f"/ecs/{NAME}"

session = boto3.session.Session()
s3, sqs, iam, ecs, events, logs, secretsmanager, ssm = (session.client(s) for s in (
    "s3", "sqs", "iam", "ecs", "events", "logs", "secretsmanager", "ssm"))
account = session.client("sts").get_caller_identity()["Account"]
region = session.region_name
incoming, outgoing = f"{NAME}-incoming-{account}", f"{NAME}-outgoing-{account}"
queue_arn = f"arn:aws:sqs:{region}:{account}:{NAME}-results"


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def role(name, service, statements):
    """A role trusted by `service` with one inline policy; its ARN."""
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="pipeline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    return arn


def delete():
    """Remove everything this script makes."""
    for call in (lambda: events.remove_targets(Rule=NAME, Ids=["worker"]),
                 lambda: events.delete_rule(Name=NAME),
                 lambda: sqs.delete_queue(QueueUrl=sqs.get_queue_url(
                     QueueName=f"{NAME}-results")["QueueUrl"]),
                 lambda: secretsmanager.delete_secret(SecretId=f"{NAME}/signing-key",
                                                      ForceDeleteWithoutRecovery=True),
                 lambda: ssm.delete_parameter(Name=f"/{NAME}/currency"),
                 lambda: logs.delete_log_group(logGroupName=LOG_GROUP)):
        with contextlib.suppress(ClientError):
            call()
    for bucket in (incoming, outgoing):
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
        except ClientError:
            pass
    for name in ("task", "execution", "events"):
        try:
            iam.delete_role_policy(RoleName=f"{NAME}-{name}", PolicyName="pipeline")
            iam.delete_role(RoleName=f"{NAME}-{name}")
        except ClientError:
            pass
    for arn in ecs.list_task_definitions(familyPrefix=NAME)["taskDefinitionArns"]:
        ecs.deregister_task_definition(taskDefinition=arn)
    print("deleted")


if "--delete" in sys.argv:
    delete()
    sys.exit()

# 1. Buckets: the incoming one sends all its events to EventBridge.
for bucket in (incoming, outgoing):
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
s3.put_bucket_notification_configuration(
    Bucket=incoming, NotificationConfiguration={"EventBridgeConfiguration": {}})
print(f"buckets {incoming} (→ EventBridge) and {outgoing}")

# 2. The task role: read incoming/*, write outgoing/*, send to the queue; nothing else.
task_role = role(f"{NAME}-task", "ecs-tasks.amazonaws.com", [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{incoming}/*"},
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{outgoing}/*"},
    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}])

# 3. The queue; its policy lets the worker's role send.
queue_url = sqs.create_queue(QueueName=f"{NAME}-results")["QueueUrl"]
sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
    "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": task_role}, "Action": "sqs:SendMessage",
        "Resource": queue_arn}]})})
print(f"queue {queue_url}; task role {task_role}")

# 4. A secret and a parameter ECS injects into the worker's environment.
try:
    secret_arn = secretsmanager.create_secret(Name=f"{NAME}/signing-key",
                                              SecretString=uuid.uuid4().hex)["ARN"]
except ClientError as error:
    if error.response["Error"]["Code"] != "ResourceExistsException":
        raise
    secret_arn = secretsmanager.describe_secret(SecretId=f"{NAME}/signing-key")["ARN"]
ssm.put_parameter(Name=f"/{NAME}/currency", Value="EUR", Type="SecureString", Overwrite=True)
parameter_arn = ssm.get_parameter(Name=f"/{NAME}/currency")["Parameter"]["ARN"]
try:
    logs.create_log_group(logGroupName=LOG_GROUP)
except ClientError as error:
    if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
        raise

# 5. The execution role: ECS reads the secret and the parameter and writes the logs with it.
execution_role = role(f"{NAME}-execution", "ecs-tasks.amazonaws.com", [
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn},
    {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn},
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}:*"}])

# 6. The worker's task definition: worker.py is its command.
definition = ecs.register_task_definition(
    family=f"{NAME}-worker", taskRoleArn=task_role, executionRoleArn=execution_role,
    networkMode="bridge", requiresCompatibilities=["EC2"], containerDefinitions=[{
        "name": "worker", "image": IMAGE, "memoryReservation": 64, "memory": 512,
        "command": ["python3", "-c", (Path(__file__).parent / "worker.py").read_text()],
        "environment": [{"name": "OUTGOING_BUCKET", "value": outgoing},
                        {"name": "QUEUE_URL", "value": queue_url}],
        "secrets": [{"name": "SIGNING_KEY", "valueFrom": secret_arn},
                    {"name": "CURRENCY", "valueFrom": parameter_arn}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": LOG_GROUP, "awslogs-region": region,
            "awslogs-stream-prefix": "worker"}}}])["taskDefinition"]["taskDefinitionArn"]
print(f"task definition {definition}")

# 7. The rule: Object Created in the incoming bucket, keys ending in .csv, runs the worker with
#    the bucket and key as container overrides, as a role EventBridge may assume.
cluster_arn = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterArn"]
events_role = role(f"{NAME}-events", "events.amazonaws.com", [
    {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": definition.rsplit(":", 1)[0] + ":*"},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [task_role, execution_role]}])
events.put_rule(Name=NAME, EventPattern=json.dumps({
    "source": ["aws.s3"], "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [incoming]}, "object": {"key": [{"suffix": ".csv"}]}}}))
answer = events.put_targets(Rule=NAME, Targets=[{
    "Id": "worker", "Arn": cluster_arn, "RoleArn": events_role,
    "EcsParameters": {"TaskDefinitionArn": definition, "LaunchType": "EC2"},
    "InputTransformer": {
        "InputPathsMap": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
        "InputTemplate": '{"containerOverrides": [{"name": "worker", "environment": ['
                         '{"name": "S3_BUCKET", "value": <bucket>}, '
                         '{"name": "S3_KEY", "value": <key>}]}]}'}}])
assert answer["FailedEntryCount"] == 0, answer["FailedEntries"]
print(f"rule {NAME}: Object Created in {incoming} (*.csv) → RunTask on {CLUSTER}")

# 8. Upload a file and wait for the worker's message and result.
key = f"uploads/{uuid.uuid4().hex[:8]}/orders.csv"
s3.put_object(Bucket=incoming, Key=key,
              Body=b"item,quantity,price\nespresso,2,2.40\ncroissant,3,1.90\n")
print(f"uploaded s3://{incoming}/{key}; waiting for the worker")
deadline = time.time() + 120
while time.time() < deadline:
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", []):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        body = json.loads(message["Body"])
        if body["input"] == f"s3://{incoming}/{key}":
            print("message:", json.dumps(body, indent=2))
            result = s3.get_object(Bucket=outgoing, Key=body["output"].split("/", 3)[3])
            print("result:", result["Body"].read().decode())
            sys.exit(0)
sys.exit("no message from the worker within 2 minutes: see `aws ecs list-tasks "
         "--desired-status STOPPED` and `aws logs tail " + LOG_GROUP + "`")
