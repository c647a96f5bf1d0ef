"""The foundation through real clients: STS, health, CloudTrail, reset, and 501 for the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from server import ACCOUNT

AWS_CLI = str(Path(sys.executable).with_name("aws"))


def aws(portside, *args: str) -> dict:
    out = subprocess.run([AWS_CLI, *args, "--output", "json"], env=portside.cli_env(),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def events_named(portside, name: str, **kwargs) -> list[dict]:
    ct = portside.client("cloudtrail")
    found = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], **kwargs)
    return [json.loads(e["CloudTrailEvent"]) for e in found["Events"]]


def test_get_caller_identity_answers_the_root_of_the_default_account(portside):
    identity = portside.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert identity["UserId"] == ACCOUNT


def test_aws_cli_get_caller_identity(portside):
    assert aws(portside, "sts", "get-caller-identity")["Account"] == ACCOUNT


def test_health_lists_version_and_every_service(portside):
    health = requests.get(f"{portside.endpoint}/_portside/health", timeout=5).json()
    assert health["version"]
    assert health["services"]["sts"] == "running"
    assert health["services"]["ecr"] == "running"
    assert health["services"]["logs"] == "running"
    assert health["services"]["eks"] == "not implemented"


@pytest.mark.parametrize("service, call", [
    ("eks", lambda c: c.list_clusters(maxResults=5, include=["all"])),
    ("eks", lambda c: c.describe_cluster(name="prod")),
])
def test_operations_of_planned_services_answer_501_not_a_fake_success(portside, service, call):
    with pytest.raises(ClientError) as info:
        call(portside.client(service))
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    assert "portside does not implement" in err["Error"]["Message"]


def test_cloudtrail_records_parameters_parsed_from_every_location(portside):
    """A failed or 501 call still goes through parsing and validation, and CloudTrail records
    what was parsed: URI labels, headers and the query string all arrive. (S3's object
    operations, with the greedy key label and the metadata header map, are data events, which
    the event history leaves out.)"""
    s3 = portside.client("s3")
    with pytest.raises(ClientError):
        s3.put_bucket_tagging(Bucket="loc-bucket", ExpectedBucketOwner="111122223333",
                              Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    with pytest.raises(ClientError):
        portside.client("eks").list_clusters(maxResults=7)
    with pytest.raises(ClientError):
        portside.client("eks").describe_cluster(name="prod")
    time.sleep(0.05)
    tagging = events_named(portside, "PutBucketTagging")[0]
    assert tagging["requestParameters"]["bucket"] == "loc-bucket"
    assert tagging["requestParameters"]["expectedBucketOwner"] == "111122223333"
    assert tagging["errorCode"] == "NoSuchBucket"
    listed = events_named(portside, "ListClusters")[0]
    assert listed["requestParameters"]["maxResults"] == 7
    assert listed["eventSource"] == "eks.amazonaws.com"
    described = events_named(portside, "DescribeCluster")[0]
    assert described["requestParameters"]["name"] == "prod"


def test_modelled_errors_raise_the_botocore_exception_class(portside):
    ct = portside.client("cloudtrail")
    with pytest.raises(ct.exceptions.InvalidLookupAttributesException):
        ct.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "a"},
            {"AttributeKey": "Username", "AttributeValue": "b"}])


def test_validation_against_the_model_gives_the_service_error(portside):
    ct = portside.client("cloudtrail", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        ct.lookup_events(MaxResults=500)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "validation" in info.value.response["Error"]["Code"].lower() or \
        info.value.response["Error"]["Code"].startswith("Invalid")


def test_aws_cli_lookup_events_shows_caller_and_source_ip(portside):
    portside.client("sts").get_caller_identity()
    time.sleep(0.05)
    found = aws(portside, "cloudtrail", "lookup-events", "--lookup-attributes",
                "AttributeKey=EventName,AttributeValue=GetCallerIdentity")
    assert found["Events"]
    event = found["Events"][0]
    assert event["EventName"] == "GetCallerIdentity"
    assert event["EventSource"] == "sts.amazonaws.com"
    assert event["ReadOnly"] == "true"
    assert event["AccessKeyId"] == "test"
    record = json.loads(event["CloudTrailEvent"])
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert record["userIdentity"]["type"] == "Root"
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["eventType"] == "AwsApiCall"
    assert record["recipientAccountId"] == ACCOUNT
    assert record["awsRegion"] == "us-east-1"


def test_lookup_events_pages_with_next_token(portside):
    sts = portside.client("sts", region="eu-west-3")
    for _ in range(5):
        sts.get_caller_identity()
    time.sleep(0.05)
    ct = portside.client("cloudtrail", region="eu-west-3")
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = ct.lookup_events(MaxResults=2, **kwargs)
        seen += [e["EventId"] for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 5


def test_failed_calls_are_recorded_with_their_error_code(portside):
    with pytest.raises(ClientError):
        portside.client("eks").list_clusters()
    time.sleep(0.05)
    record = events_named(portside, "ListClusters")
    assert any(r["errorCode"] == "NotImplemented" and r["eventSource"] == "eks.amazonaws.com"
               for r in record)


def test_x_forwarded_for_does_not_choose_the_source_ip(portside):
    sts = portside.client("sts")
    agent = f"forwarded-{time.time_ns()}"
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", lambda request, **_: (
        request.headers.__setitem__("X-Forwarded-For", "203.0.113.9"),
        request.headers.__setitem__("User-Agent", agent)))
    sts.get_caller_identity()
    time.sleep(0.2)
    records = [r for r in events_named(portside, "GetCallerIdentity") if r["userAgent"] == agent]
    assert [r["sourceIPAddress"] for r in records] == ["127.0.0.1"]


def test_s3_object_operations_are_data_events_left_out_of_the_event_history(portside):
    # As in AWS: CloudTrail's event history holds management events (CreateBucket); object
    # reads and writes are data events, recorded only by a trail that selects them.
    bucket = f"trail-{time.time_ns()}"
    s3 = portside.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    s3.head_object(Bucket=bucket, Key="k")
    s3.delete_object(Bucket=bucket, Key="k")
    time.sleep(0.2)
    assert any(r["requestParameters"].get("bucketName") == bucket or bucket in json.dumps(r)
               for r in events_named(portside, "CreateBucket"))
    for name in ("PutObject", "GetObject", "HeadObject", "DeleteObject"):
        assert not [r for r in events_named(portside, name) if bucket in json.dumps(r)], name


def test_secret_material_never_reaches_cloudtrail(portside):
    name = f"gateway-{time.time_ns()}"
    portside.client("secretsmanager").create_secret(Name=name, SecretString="hunter2-xyz")
    portside.client("ssm").put_parameter(Name=f"/{name}", Value="s3cr3t-val",
                                         Type="SecureString")
    time.sleep(0.05)
    ct = portside.client("cloudtrail")
    dump = json.dumps(ct.lookup_events(MaxResults=50)["Events"], default=str)
    assert "hunter2-xyz" not in dump and "s3cr3t-val" not in dump
    assert "HIDDEN_DUE_TO_SECURITY_REASONS" in dump
    log = portside.log_path.read_text()
    assert "hunter2-xyz" not in log and "s3cr3t-val" not in log


def _signed_reset(endpoint: str, key: str, secret: str) -> requests.Response:
    request = AWSRequest(method="POST", url=f"{endpoint}/_portside/reset", data=b"")
    SigV4Auth(Credentials(key, secret), "portside", "us-east-1").add_auth(request)
    return requests.post(request.url, data=b"", headers=dict(request.headers), timeout=10)


def test_reset_needs_root_credentials_and_wipes_state(tmp_path):
    from server import PortsideServer

    server = PortsideServer(tmp_path / "data").start()
    try:
        server.client("sts").get_caller_identity()
        assert requests.post(f"{server.endpoint}/_portside/reset", timeout=5).status_code == 403
        assert _signed_reset(server.endpoint, "test", "wrong").status_code == 403
        assert _signed_reset(server.endpoint, "test", "test").status_code == 200
        # The host's local agent registers itself again after a reset; the call made before
        # the reset is gone.
        assert events_named(server, "GetCallerIdentity") == []
        # `portside reset` signs with the root keys of its settings (portside.auth.sigv4).
        out = subprocess.run([sys.executable, "-m", "portside", "reset", "--endpoint",
                              server.endpoint], capture_output=True, text=True, timeout=30,
                             env={**os.environ})
        assert (out.returncode, out.stdout) == (0, "portside state wiped\n"), out.stderr
    finally:
        server.stop()


def test_portside_status_reports_services(portside):
    out = subprocess.run([sys.executable, "-m", "portside", "status", "--endpoint",
                          portside.endpoint], capture_output=True, text=True, timeout=30,
                         env={**os.environ})
    assert out.returncode == 0
    assert "sts" in out.stdout and "running" in out.stdout
