"""CloudTrail records: the fields AWS writes, and secrets hidden."""

from __future__ import annotations

from portside.auth.identity import Principal
from portside.context import RequestContext
from portside.protocol.errors import error
from portside.protocol.models import operation_model
from portside.services.cloudtrail.records import HIDDEN, build_record, is_read_only


def ctx(operation: str) -> RequestContext:
    return RequestContext("000000000000", "us-east-1", Principal.root("000000000000"), "test",
                          "req-1", "127.0.0.1", "ua", "x", operation)


def test_record_fields_of_a_read_only_call():
    record = build_record(ctx("GetCallerIdentity"), "sts.amazonaws.com",
                          operation_model("sts", "GetCallerIdentity"), {}, {"Account": "0"}, None)
    assert record["eventType"] == "AwsApiCall"
    assert record["readOnly"] is True
    assert record["responseElements"] is None
    assert record["userIdentity"] == {"type": "Root", "principalId": "000000000000",
                                      "arn": "arn:aws:iam::000000000000:root",
                                      "accountId": "000000000000", "accessKeyId": "test"}
    assert "errorCode" not in record


def test_sensitive_members_are_hidden_in_requests_and_responses():
    op = operation_model("secretsmanager", "CreateSecret")
    record = build_record(ctx("CreateSecret"), "secretsmanager.amazonaws.com", op,
                          {"Name": "db", "SecretString": "hunter2"}, {"Name": "db"}, None)
    assert record["requestParameters"] == {"name": "db", "secretString": HIDDEN}
    op = operation_model("sts", "AssumeRole")
    record = build_record(ctx("AssumeRole"), "sts.amazonaws.com", op, {"RoleArn": "r"},
                          {"Credentials": {"AccessKeyId": "ASIA", "SecretAccessKey": "s",
                                           "SessionToken": "t"}}, None)
    assert record["responseElements"]["credentials"] == HIDDEN


def test_failed_calls_carry_error_code_and_message():
    record = build_record(ctx("DeleteCluster"), "ecs.amazonaws.com", None, None, None,
                          error("ClusterNotFoundException", "Cluster not found."))
    assert record["errorCode"] == "ClusterNotFoundException"
    assert record["errorMessage"] == "Cluster not found."
    assert record["readOnly"] is False


def test_read_only_follows_the_operation_verb():
    assert is_read_only("DescribeTasks") and is_read_only("ListClusters")
    assert not is_read_only("RunTask") and not is_read_only("PutObject")
