"""The serializer behaviours portside relies on, checked through real botocore clients.

Each test makes a botocore client whose HTTP layer returns our serialized response (a
`before-send` hook), so what is asserted is what an SDK user sees: the exception class, the error
code, the parsed result.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore_wire import body_bytes
from sqs_legacy import legacy_sqs_data as write_legacy_sqs_data

from portside.protocol.errors import AwsError, NotImplementedOperation, error
from portside.protocol.http import HttpResponse
from portside.protocol.models import operation_model, service_model
from portside.protocol.serializers import serialize_error, serialize_response

REQUEST_ID = "6d4b4c3a-0000-4000-8000-000000000001"


class _RawBody:
    """The urllib3 response botocore would read the body from."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._body.read(amt)

    def close(self) -> None:
        self._body.close()


def _client(service: str, data_path: Path | None = None) -> BaseClient:
    session = botocore.session.get_session()
    if data_path is not None:
        session.get_component("data_loader").search_paths.insert(0, str(data_path))
    return session.create_client(
        service,
        region_name="us-east-1",
        endpoint_url="http://portside.test",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _answering(client: BaseClient, respond: Callable[[str, str], HttpResponse]) -> BaseClient:
    """Makes `client` receive `respond(operation name, HTTP method)` instead of sending."""

    def before_send(request: Any, event_name: str, **_: Any) -> AWSResponse:
        response = respond(event_name.rsplit(".", 1)[-1], request.method)
        return AWSResponse(
            request.url, response.status, response.headers, _RawBody(body_bytes(response))
        )

    client.meta.events.register("before-send", before_send)
    return client


def _error_client(service: str, err: AwsError, protocol: str | None = None) -> BaseClient:
    model = service_model(service)
    return _answering(
        _client(service),
        lambda _, method: serialize_error(model, err, REQUEST_ID, protocol, method=method),
    )


@pytest.fixture(scope="module")
def legacy_sqs_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data path holding SQS's query model, as SDKs from before the json move carry it."""
    return write_legacy_sqs_data(tmp_path_factory.mktemp("botocore-data"))


# ---------------------------------------------------------------------------------------------
# Errors: the exception class and code an SDK user sees

ERROR_CASES = [
    # service, error, client call, exception class name, Error.Code, HTTP status
    pytest.param(
        "ecs",
        error("ClusterNotFoundException", "Cluster not found."),
        lambda c: c.describe_services(cluster="nope", services=["web"]),
        "ClusterNotFoundException",
        "ClusterNotFoundException",
        400,
        id="ecs-cluster-not-found",
    ),
    pytest.param(
        "sqs",
        error("QueueDoesNotExist", "The specified queue does not exist."),
        lambda c: c.get_queue_url(QueueName="nope"),
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        id="sqs-json-queue-does-not-exist",
    ),
    pytest.param(
        "sqs",
        error("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."),
        lambda c: c.get_queue_url(QueueName="nope"),
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        id="sqs-json-raised-by-legacy-code",
    ),
    pytest.param(
        "sqs",
        error("ReceiptHandleIsInvalid", "The input receipt handle is invalid."),
        lambda c: c.delete_message(QueueUrl="http://portside.test/0/q", ReceiptHandle="x"),
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
        404,
        id="sqs-json-status-from-query-error-trait",
    ),
    pytest.param(
        "events",
        error("ResourceNotFoundException", "Rule r does not exist on EventBus default."),
        lambda c: c.describe_rule(Name="r"),
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        400,
        id="eventbridge-resource-not-found",
    ),
    pytest.param(
        "s3",
        error("NoSuchBucket", "The specified bucket does not exist", BucketName="nope"),
        lambda c: c.list_objects_v2(Bucket="nope"),
        "NoSuchBucket",
        "NoSuchBucket",
        404,
        id="s3-no-such-bucket",
    ),
    pytest.param(
        "eks",
        error("ResourceNotFoundException", "No cluster found for name: c.", clusterName="c"),
        lambda c: c.describe_cluster(name="c"),
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        404,
        id="eks-resource-not-found",
    ),
    pytest.param(
        "sts",
        AwsError(
            "The security token included in the request is invalid.",
            code="InvalidClientTokenId",
            status=403,
        ),
        lambda c: c.get_caller_identity(),
        "ClientError",
        "InvalidClientTokenId",
        403,
        id="sts-invalid-client-token-id",
    ),
    pytest.param(
        "iam",
        error("EntityAlreadyExists", "Role with name r already exists."),
        lambda c: c.create_role(RoleName="r", AssumeRolePolicyDocument="{}"),
        "EntityAlreadyExistsException",
        "EntityAlreadyExists",
        409,
        id="iam-query-code-differs-from-shape-name",
    ),
]


@pytest.mark.parametrize(("service", "err", "call", "exception", "code", "status"), ERROR_CASES)
def test_sdk_raises_the_modelled_exception_with_the_aws_error_code(
    service: str,
    err: AwsError,
    call: Callable[[BaseClient], Any],
    exception: str,
    code: str,
    status: int,
) -> None:
    client = _error_client(service, err)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert type(raised.value).__name__ == exception
    expected_class = getattr(client.exceptions, exception, ClientError)
    assert isinstance(raised.value, expected_class)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["Error"]["Message"] == err.message
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_sqs_json_error_names_the_shape_and_carries_the_legacy_code_in_a_header() -> None:
    response = serialize_error(
        service_model("sqs"),
        error("QueueDoesNotExist", "The specified queue does not exist."),
        REQUEST_ID,
    )
    assert (
        response.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    )
    assert json.loads(response.body)["__type"] == "QueueDoesNotExist"
    assert response.headers["Content-Type"] == "application/x-amz-json-1.0"


def test_sqs_query_error_reaches_an_sdk_of_the_query_era(legacy_sqs_data: Path) -> None:
    sqs = service_model("sqs")
    err = error("QueueDoesNotExist", "The specified queue does not exist.")
    client = _answering(
        _client("sqs", legacy_sqs_data),
        lambda _, method: serialize_error(sqs, err, REQUEST_ID, "query", method=method),
    )
    assert client.meta.service_model.protocol == "query"
    with pytest.raises(client.exceptions.QueueDoesNotExist) as raised:
        client.get_queue_url(QueueName="nope")
    assert raised.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert raised.value.response["Error"]["Type"] == "Sender"
    assert raised.value.response["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_modelled_error_members_reach_the_sdk() -> None:
    client = _error_client(
        "ecs", error("ConflictException", "Conflict.", resourceIds=["arn:aws:ecs:task/1"])
    )
    with pytest.raises(client.exceptions.ConflictException) as raised:
        client.describe_clusters()
    assert raised.value.response["resourceIds"] == ["arn:aws:ecs:task/1"]


def test_eks_error_members_reach_the_sdk() -> None:
    client = _error_client("eks", error("ResourceNotFoundException", "No.", clusterName="c"))
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.describe_cluster(name="c")
    assert raised.value.response["clusterName"] == "c"


def test_s3_error_carries_unmodelled_details_and_both_request_ids() -> None:
    response = serialize_error(
        service_model("s3"), error("NoSuchBucket", "Nope.", BucketName="b"), REQUEST_ID
    )
    assert response.status == 404
    assert response.headers["x-amz-request-id"] == REQUEST_ID
    assert response.headers["x-amz-id-2"]
    client = _error_client("s3", error("NoSuchBucket", "Nope.", BucketName="b"))
    with pytest.raises(client.exceptions.NoSuchBucket) as raised:
        client.list_objects_v2(Bucket="b")
    assert raised.value.response["Error"]["BucketName"] == "b"
    assert raised.value.response["ResponseMetadata"]["HostId"] == response.headers["x-amz-id-2"]


def test_head_error_has_no_body_and_the_sdk_reads_the_status() -> None:
    client = _error_client("s3", error("NoSuchKey", "The specified key does not exist."))
    with pytest.raises(ClientError) as raised:
        client.head_object(Bucket="b", Key="k")
    assert raised.value.response["Error"]["Code"] == "404"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    response = serialize_error(
        service_model("s3"), error("NoSuchKey", "x"), REQUEST_ID, method="HEAD"
    )
    assert response.body == b""


NOT_IMPLEMENTED_CASES = [
    pytest.param("ecs", None, lambda c: c.list_clusters(), id="json"),
    pytest.param("sqs", None, lambda c: c.list_queues(), id="json-query-compatible"),
    pytest.param("sts", None, lambda c: c.get_caller_identity(), id="query"),
    pytest.param("eks", None, lambda c: c.list_clusters(), id="rest-json"),
    pytest.param("s3", None, lambda c: c.list_buckets(), id="rest-xml"),
]


@pytest.mark.parametrize(("service", "protocol", "call"), NOT_IMPLEMENTED_CASES)
def test_not_implemented_is_a_501_with_its_code_in_every_protocol(
    service: str, protocol: str | None, call: Callable[[BaseClient], Any]
) -> None:
    err = NotImplementedOperation("portside does not implement this operation yet.")
    with pytest.raises(ClientError) as raised:
        call(_error_client(service, err, protocol))
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert raised.value.response["Error"]["Message"] == err.message
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_sqs_not_implemented_through_query(legacy_sqs_data: Path) -> None:
    sqs = service_model("sqs")
    err = NotImplementedOperation("not yet")
    client = _answering(
        _client("sqs", legacy_sqs_data),
        lambda _, method: serialize_error(sqs, err, REQUEST_ID, "query"),
    )
    with pytest.raises(ClientError) as raised:
        client.list_queues()
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert raised.value.response["Error"]["Type"] == "Receiver"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_explicit_status_wins_over_the_model() -> None:
    response = serialize_error(
        service_model("s3"), error("NoSuchBucket", "x", status=400), REQUEST_ID
    )
    assert response.status == 400


def test_unmodelled_code_defaults_to_400_and_passes_through() -> None:
    response = serialize_error(
        service_model("ecs"), error("ThrottlingException", "Slow down."), REQUEST_ID
    )
    assert response.status == 400
    assert json.loads(response.body)["__type"] == "ThrottlingException"


@pytest.mark.parametrize("service", ["ecs", "sts", "eks", "s3"])
def test_error_message_never_carries_a_traceback(service: str) -> None:
    leaked = 'boom\nTraceback (most recent call last):\n  File "x.py", line 1, in f\nKeyError: 1'
    response = serialize_error(service_model(service), AwsError(leaked, status=500), REQUEST_ID)
    assert b"Traceback" not in response.body
    assert b"x.py" not in response.body


# ---------------------------------------------------------------------------------------------
# Results: what the SDK parses out of our responses


def _result_client(
    service: str,
    result: dict[str, Any],
    protocol: str | None = None,
    data_path: Path | None = None,
) -> BaseClient:
    model = service_model(service)
    return _answering(
        _client(service, data_path),
        lambda operation, _: serialize_response(
            model.operation_model(operation), result, REQUEST_ID, protocol
        ),
    )


CREATED = datetime(2024, 5, 17, 9, 30, 12, 250000, tzinfo=UTC)


def test_ecs_json_result_with_timestamps_and_nested_lists() -> None:
    cluster = {
        "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/default",
        "clusterName": "default",
        "status": "ACTIVE",
        "runningTasksCount": 2,
        "statistics": [{"name": "runningEC2TasksCount", "value": "2"}],
        "tags": [{"key": "team", "value": "core"}],
        "settings": [{"name": "containerInsights", "value": "disabled"}],
        "unknownKey": "ignored",
    }
    client = _result_client("ecs", {"clusters": [cluster], "failures": []})
    got = client.describe_clusters(clusters=["default"])
    assert got["clusters"][0]["runningTasksCount"] == 2
    assert got["clusters"][0]["tags"] == [{"key": "team", "value": "core"}]
    assert "unknownKey" not in got["clusters"][0]
    assert got["failures"] == []
    task = {"taskArn": "arn:aws:ecs:us-east-1:000000000000:task/default/1", "createdAt": CREATED}
    got = _result_client("ecs", {"tasks": [task]}).describe_tasks(tasks=["1"])
    assert got["tasks"][0]["createdAt"] == CREATED


def test_sts_query_result() -> None:
    identity = {
        "UserId": "AKIA",
        "Account": "000000000000",
        "Arn": "arn:aws:iam::000000000000:root",
    }
    got = _result_client("sts", identity).get_caller_identity()
    assert {k: got[k] for k in identity} == identity
    assert got["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_sqs_receive_message_through_json_and_through_query(legacy_sqs_data: Path) -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "Body": "<hello & welcome>",
        "Attributes": {"SentTimestamp": "1715938212250", "ApproximateReceiveCount": "1"},
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    result = {"Messages": [message]}
    got_json = _result_client("sqs", result).receive_message(QueueUrl="http://portside.test/q")
    got_query = _result_client("sqs", result, "query", legacy_sqs_data).receive_message(
        QueueUrl="http://portside.test/q"
    )
    assert got_json["Messages"] == [message]
    assert got_query["Messages"] == [message]


def test_sqs_query_uses_the_legacy_element_names() -> None:
    operation = operation_model("sqs", "ListQueues")
    response = serialize_response(
        operation, {"QueueUrls": ["http://q/1", "http://q/2"]}, REQUEST_ID, "query"
    )
    assert response.body == (
        b'<ListQueuesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
        b"<ListQueuesResult><QueueUrl>http://q/1</QueueUrl><QueueUrl>http://q/2</QueueUrl>"
        b"</ListQueuesResult><ResponseMetadata><RequestId>"
        + REQUEST_ID.encode()
        + b"</RequestId></ResponseMetadata></ListQueuesResponse>"
    )


def test_eks_rest_json_result() -> None:
    cluster = {
        "name": "c",
        "arn": "arn:aws:eks:us-east-1:000000000000:cluster/c",
        "createdAt": CREATED,
        "status": "ACTIVE",
        "tags": {"team": "core"},
    }
    got = _result_client("eks", {"cluster": cluster}).describe_cluster(name="c")
    assert got["cluster"] == cluster


def test_s3_list_objects_v2_result() -> None:
    contents = [
        {
            "Key": "a/b.txt",
            "LastModified": CREATED.replace(microsecond=0),
            "ETag": '"abc"',
            "Size": 3,
            "StorageClass": "STANDARD",
        }
    ]
    result = {
        "Name": "b",
        "Prefix": "",
        "KeyCount": 1,
        "MaxKeys": 1000,
        "IsTruncated": False,
        "Contents": contents,
    }
    operation = operation_model("s3", "ListObjectsV2")
    response = serialize_response(operation, result, REQUEST_ID)
    assert response.body.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    )
    assert response.headers["x-amz-request-id"] == REQUEST_ID
    got = _result_client("s3", result).list_objects_v2(Bucket="b")
    assert got["Contents"] == contents
    assert got["IsTruncated"] is False


def test_s3_head_object_headers_and_user_metadata() -> None:
    result = {
        "ContentLength": 3,
        "ContentType": "text/plain",
        "ETag": '"abc"',
        "LastModified": CREATED.replace(microsecond=0),
        "Metadata": {"owner": "me"},
    }
    response = serialize_response(operation_model("s3", "HeadObject"), result, REQUEST_ID)
    assert response.headers["x-amz-meta-owner"] == "me"
    assert response.headers["Last-Modified"] == "Fri, 17 May 2024 09:30:12 GMT"
    assert response.body == b""
    got = _result_client("s3", result).head_object(Bucket="b", Key="k")
    assert {k: got[k] for k in result} == result


def test_s3_get_bucket_location() -> None:
    got = _result_client("s3", {"LocationConstraint": "eu-west-1"}).get_bucket_location(Bucket="b")
    assert got["LocationConstraint"] == "eu-west-1"
    got = _result_client("s3", {}).get_bucket_location(Bucket="b")
    assert got["LocationConstraint"] is None


def test_streaming_get_object_body_passes_through_unbuffered() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    stream = chunks()
    result = {"Body": stream, "ContentLength": 11, "ContentType": "text/plain", "ETag": '"e"'}
    response = serialize_response(operation_model("s3", "GetObject"), result, REQUEST_ID)
    assert response.body is stream
    assert response.headers["Content-Length"] == "11"
    assert response.headers["Content-Type"] == "text/plain"

    async def fresh() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    got = _result_client("s3", {**result, "Body": fresh()}).get_object(Bucket="b", Key="k")
    assert got["Body"].read() == b"hello world"


def test_statuscode_member_sets_the_status() -> None:
    lambda_invoke = operation_model("lambda", "Invoke")
    response = serialize_response(lambda_invoke, {"StatusCode": 202, "Payload": b""}, REQUEST_ID)
    assert response.status == 202


def test_streaming_body_is_not_drained_by_serializing() -> None:
    consumed = []

    async def chunks() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b"x"

    serialize_response(operation_model("s3", "GetObject"), {"Body": chunks()}, REQUEST_ID)
    assert consumed == []


def test_xml_attribute_values_are_escaped_once() -> None:
    grant = {"Grantee": {"Type": 'Canonical&"User"<', "ID": "a&b"}, "Permission": "READ"}
    response = serialize_response(
        operation_model("s3", "GetBucketAcl"), {"Grants": [grant]}, REQUEST_ID
    )
    assert b'xsi:type="Canonical&amp;&quot;User&quot;&lt;"' in response.body
    got = _result_client("s3", {"Grants": [grant]}).get_bucket_acl(Bucket="b")
    assert got["Grants"] == [grant]
