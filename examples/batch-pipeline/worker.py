"""The batch pipeline's worker: one ECS task per uploaded CSV file of orders.

It runs in `portside-test/python-boto3:latest` as `python3 -c <this file>`, with nothing but
its environment: the object to read (S3_BUCKET and S3_KEY, passed by the EventBridge rule as a
container override), where to write (OUTGOING_BUCKET, QUEUE_URL), the signing key and the
currency (SIGNING_KEY from Secrets Manager and CURRENCY from SSM Parameter Store, injected by
ECS when the task definition names them). Its AWS credentials are the task role's, found by
boto3 through the ECS credentials endpoint, as on AWS.

It reads the file, writes a JSON summary to the outgoing bucket, sends a message naming it to
the queue, and shows that its role allows nothing else: each forbidden call's error code goes
into the message. Plain boto3; it runs unchanged on AWS.
"""

import csv
import hashlib
import hmac
import io
import json
import os
import time
from decimal import Decimal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

started = time.time()
bucket, key = os.environ["S3_BUCKET"], os.environ["S3_KEY"]
outgoing, queue_url = os.environ["OUTGOING_BUCKET"], os.environ["QUEUE_URL"]
# Keep trying while the endpoints are briefly away (a restart of the host's agent): the
# credentials (fetched when a client is made) and then each call.
config = Config(retries={"mode": "standard", "total_max_attempts": 10})
for _ in range(60):
    try:
        s3, sqs = boto3.client("s3", config=config), boto3.client("sqs", config=config)
        break
    except BotoCoreError as error:
        print(f"no credentials yet ({error}); trying again", flush=True)
        time.sleep(1)
else:
    raise SystemExit("no task role credentials within a minute")

print(f"reading s3://{bucket}/{key}", flush=True)
text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
orders = list(csv.DictReader(io.StringIO(text)))
totals: dict = {}
for order in orders:
    amount = int(order["quantity"]) * Decimal(order["price"])
    totals[order["item"]] = totals.get(order["item"], Decimal(0)) + amount
summary = {
    "source": f"s3://{bucket}/{key}",
    "orders": len(orders),
    "currency": os.environ.get("CURRENCY"),
    "totals": {item: str(amount) for item, amount in sorted(totals.items())},
    "total": str(sum(totals.values(), Decimal(0))),
}
result = json.dumps(summary, indent=2, sort_keys=True).encode()
out_key = "processed/" + key.removeprefix("uploads/").rsplit(".", 1)[0] + ".json"
signing_key = os.environ.get("SIGNING_KEY")
signature = (hmac.new(signing_key.encode(), result, hashlib.sha256).hexdigest()
             if signing_key else None)
s3.put_object(Bucket=outgoing, Key=out_key, Body=result, ContentType="application/json",
              Metadata={"signature": signature or "unsigned"})
print(f"wrote s3://{outgoing}/{out_key}: {summary['orders']} orders, total {summary['total']}",
      flush=True)


def attempt(call) -> str:
    """The error code a forbidden call gets, or ALLOWED if the role let it through."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ALLOWED"


denied = {
    f"s3:GetObject on s3://{outgoing}/{out_key}":
        attempt(lambda: s3.get_object(Bucket=outgoing, Key=out_key)),
    f"s3:PutObject on s3://{bucket}/{key}.copy":
        attempt(lambda: s3.put_object(Bucket=bucket, Key=key + ".copy", Body=result)),
    "sqs:ReceiveMessage on the queue":
        attempt(lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)),
}
for call, outcome in denied.items():
    print(f"{call}: {outcome}", flush=True)
sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
    "input": f"s3://{bucket}/{key}", "output": f"s3://{outgoing}/{out_key}",
    "orders": summary["orders"], "total": summary["total"], "signature": signature,
    "denied": denied, "seconds": round(time.time() - started, 3)}))
print("sent the result to the queue", flush=True)
