"""Request parsing as the services rely on it: what an SDK sends comes back as the parameters its
caller passed, and bad requests get the error AWS answers."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.serialize import create_serializer

from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest
from portside.protocol.models import service_model
from portside.protocol.parsers import parse_request
from portside.protocol.query_compat import query_model


def sdk_request(service: str, operation: str, params: dict, protocol: str | None = None):
    """The request botocore sends for `params` (the query model when SQS speaks query)."""
    model = service_model(service)
    if protocol == "query":
        model = query_model(model)
    protocol = protocol or model.metadata["protocol"]
    serialized = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, model.operation_model(operation)
    )
    prepare_request_dict(serialized, "http://localhost:4566")
    prepared = AWSRequest(
        method=serialized["method"],
        url=serialized["url"],
        data=serialized["body"],
        headers=serialized["headers"],
    ).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    headers = {k.lower(): v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    return HttpRequest(prepared.method, url.path, url.query, headers, body.encode()
                       if isinstance(body, str) else body)


def parse(service: str, request: HttpRequest, protocol: str | None = None):
    operation, params = parse_request(service_model(service), request, protocol)
    return operation.name, params


ROUND_TRIPS = [
    ("sqs", "SendMessage", {"QueueUrl": "http://localhost:4566/000000000000/q",
                            "MessageBody": "hi", "DelaySeconds": 5,
                            "MessageAttributes": {
                                "s": {"DataType": "String", "StringValue": "v"},
                                "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}}, None),
    ("sqs", "SendMessage", {"QueueUrl": "u", "MessageBody": "hi",
                            "MessageAttributes": {"s": {"DataType": "String",
                                                        "StringValue": "v"}}}, "query"),
    ("sqs", "SetQueueAttributes", {"QueueUrl": "u", "Attributes": {"VisibilityTimeout": "40"}},
     "query"),
    ("sqs", "SendMessageBatch", {"QueueUrl": "u", "Entries": [
        {"Id": "1", "MessageBody": "x"}, {"Id": "2", "MessageBody": "y", "DelaySeconds": 1}]},
     "query"),
    ("sqs", "TagQueue", {"QueueUrl": "u", "Tags": {"team": "a", "env": "b"}}, "query"),
    ("sts", "GetCallerIdentity", {}, None),
    ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::000000000000:role/r",
                           "RoleSessionName": "session", "DurationSeconds": 900,
                           "Tags": [{"Key": "k", "Value": "v"}]}, None),
    ("ecs", "RunTask", {"cluster": "c", "taskDefinition": "td:1", "count": 2, "overrides": {
        "containerOverrides": [{"name": "app", "command": ["run", "x"],
                                "environment": [{"name": "KEY", "value": "s3://b/k"}]}]}},
     None),
    ("events", "PutEvents", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}",
                                          "Time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}]},
     None),
    ("eks", "DescribeCluster", {"name": "c1"}, None),
    ("eks", "CreateCluster", {"name": "c1", "roleArn": "arn:aws:iam::0:role/r",
                              "resourcesVpcConfig": {"subnetIds": ["s-1"]},
                              "tags": {"a": "b"}}, None),
    ("eks", "ListNodegroups", {"clusterName": "c1", "maxResults": 5, "nextToken": "t"}, None),
    ("s3", "PutObject", {"Bucket": "incoming", "Key": "a/b c+d.txt", "Body": b"data",
                         "Metadata": {"owner": "me"}, "ContentType": "text/plain"}, None),
    ("s3", "GetObject", {"Bucket": "b", "Key": "k", "Range": "bytes=0-1",
                         "IfModifiedSince": datetime(2020, 1, 1, tzinfo=UTC)}, None),
    ("s3", "CopyObject", {"Bucket": "b", "Key": "k", "CopySource": "src/k"}, None),
    ("s3", "UploadPart", {"Bucket": "b", "Key": "k", "PartNumber": 1, "UploadId": "u",
                          "Body": b"x"}, None),
    ("s3", "UploadPartCopy", {"Bucket": "b", "Key": "k", "PartNumber": 2, "UploadId": "u",
                              "CopySource": "src/k"}, None),
    ("s3", "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, None),
    ("s3", "CompleteMultipartUpload", {"Bucket": "b", "Key": "k", "UploadId": "u",
                                       "MultipartUpload": {"Parts": [{"ETag": "e",
                                                                      "PartNumber": 1}]}}, None),
    ("s3", "ListParts", {"Bucket": "b", "Key": "k", "UploadId": "u"}, None),
    ("s3", "AbortMultipartUpload", {"Bucket": "b", "Key": "k", "UploadId": "u"}, None),
    ("s3", "DeleteObject", {"Bucket": "b", "Key": "k"}, None),
    ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/", "MaxKeys": 10}, None),
    ("s3", "ListObjects", {"Bucket": "b"}, None),
    ("s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}],
                                                       "Quiet": True}}, None),
    ("s3", "PutBucketTagging", {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k",
                                                                        "Value": "v"}]}}, None),
    ("s3", "PutObjectTagging", {"Bucket": "b", "Key": "k", "Tagging": {"TagSet": []}}, None),
    ("s3", "CreateBucket", {"Bucket": "b", "CreateBucketConfiguration": {
        "LocationConstraint": "eu-west-1"}}, None),
    ("s3", "ListBuckets", {}, None),
    ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, None),
    ("s3", "GetBucketLifecycleConfiguration", {"Bucket": "b"}, None),
    ("s3", "PutBucketNotificationConfiguration", {"Bucket": "b", "NotificationConfiguration": {
        "EventBridgeConfiguration": {}}}, None),
    ("s3", "PutObjectAcl", {"Bucket": "b", "Key": "k", "AccessControlPolicy": {
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "x"}, "Permission": "READ"}],
        "Owner": {"ID": "o"}}}, None),
]


@pytest.mark.parametrize("service, operation, params, protocol", ROUND_TRIPS,
                         ids=[f"{s}-{o}-{p or 'model'}" for s, o, _, p in ROUND_TRIPS])
def test_what_botocore_sends_parses_back_to_its_params(service, operation, params, protocol):
    request = sdk_request(service, operation, params, protocol)
    assert parse(service, request, protocol) == (operation, params)


# Query requests as SDKs from SQS's query days wrote them (the 2012-11-05 query API reference).
SQS_QUERY = [
    ("Action=SetQueueAttributes&QueueUrl=u&Attribute.1.Name=VisibilityTimeout"
     "&Attribute.1.Value=40&Attribute.2.Name=DelaySeconds&Attribute.2.Value=5",
     "SetQueueAttributes",
     {"QueueUrl": "u", "Attributes": {"VisibilityTimeout": "40", "DelaySeconds": "5"}}),
    ("Action=GetQueueAttributes&QueueUrl=u&AttributeName.1=All",
     "GetQueueAttributes", {"QueueUrl": "u", "AttributeNames": ["All"]}),
    ("Action=SendMessage&QueueUrl=u&MessageBody=a+b%26c&MessageAttribute.1.Name=k"
     "&MessageAttribute.1.Value.StringValue=v&MessageAttribute.1.Value.DataType=String",
     "SendMessage",
     {"QueueUrl": "u", "MessageBody": "a b&c",
      "MessageAttributes": {"k": {"StringValue": "v", "DataType": "String"}}}),
    ("Action=SendMessageBatch&QueueUrl=u&SendMessageBatchRequestEntry.2.Id=b"
     "&SendMessageBatchRequestEntry.2.MessageBody=y&SendMessageBatchRequestEntry.1.Id=a"
     "&SendMessageBatchRequestEntry.1.MessageBody=x",
     "SendMessageBatch",
     {"QueueUrl": "u", "Entries": [{"Id": "a", "MessageBody": "x"},
                                   {"Id": "b", "MessageBody": "y"}]}),
    ("Action=DeleteMessageBatch&QueueUrl=u&DeleteMessageBatchRequestEntry.1.Id=a"
     "&DeleteMessageBatchRequestEntry.1.ReceiptHandle=r",
     "DeleteMessageBatch",
     {"QueueUrl": "u", "Entries": [{"Id": "a", "ReceiptHandle": "r"}]}),
    ("Action=CreateQueue&QueueName=q&Tag.1.Key=team&Tag.1.Value=a",
     "CreateQueue", {"QueueName": "q", "tags": {"team": "a"}}),
    ("Action=UntagQueue&QueueUrl=u&TagKey.1=team", "UntagQueue",
     {"QueueUrl": "u", "TagKeys": ["team"]}),
]


@pytest.mark.parametrize("form, operation, params", SQS_QUERY, ids=[c[1] for c in SQS_QUERY])
def test_sqs_reads_the_query_names_of_older_sdks(form, operation, params):
    request = HttpRequest("POST", "/", "", {}, f"{form}&Version=2012-11-05".encode())
    assert parse("sqs", request, "query") == (operation, params)


def test_sqs_query_takes_the_queue_url_from_the_path_when_the_form_has_none():
    request = HttpRequest("POST", "/000000000000/jobs", "", {"host": "localhost:4566"},
                          b"Action=ReceiveMessage&Version=2012-11-05")
    assert parse("sqs", request, "query") == (
        "ReceiveMessage", {"QueueUrl": "http://localhost:4566/000000000000/jobs"})


def test_sqs_json_reads_the_target_and_body():
    body = json.dumps({"QueueUrl": "u", "MessageBody": "m", "DelaySeconds": 3}).encode()
    request = HttpRequest("POST", "/", "", {"x-amz-target": "AmazonSQS.SendMessage"}, body)
    assert parse("sqs", request) == ("SendMessage",
                                     {"QueueUrl": "u", "MessageBody": "m", "DelaySeconds": 3})


def test_query_parameters_may_come_in_the_query_string_of_a_get():
    request = HttpRequest("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15")
    assert parse("sts", request) == ("GetCallerIdentity", {})


S3_ROUTES = [
    ("GET", "/b/a/b/c.txt", "", {}, "GetObject", {"Bucket": "b", "Key": "a/b/c.txt"}),
    ("GET", "/b/a%2Fb%20c", "", {}, "GetObject", {"Bucket": "b", "Key": "a/b c"}),
    ("GET", "/b//leading", "", {}, "GetObject", {"Bucket": "b", "Key": "/leading"}),
    ("GET", "/b/dir/", "", {}, "GetObject", {"Bucket": "b", "Key": "dir/"}),
    ("GET", "/b/", "", {}, "ListObjects", {"Bucket": "b"}),
    ("GET", "/b", "list-type=2&prefix=x", {}, "ListObjectsV2", {"Bucket": "b", "Prefix": "x"}),
    ("GET", "/b", "uploads", {}, "ListMultipartUploads", {"Bucket": "b"}),
    ("GET", "/b/k", "uploadId=u", {}, "ListParts", {"Bucket": "b", "Key": "k", "UploadId": "u"}),
    ("GET", "/", "", {}, "ListBuckets", {}),
    ("HEAD", "/b", "", {}, "HeadBucket", {"Bucket": "b"}),
    ("PUT", "/b", "tagging", {}, "PutBucketTagging", {"Bucket": "b"}),
    ("PUT", "/b/k", "tagging", {}, "PutObjectTagging", {"Bucket": "b", "Key": "k"}),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "/src/k"}, "CopyObject",
     {"Bucket": "b", "Key": "k", "CopySource": "/src/k"}),
    ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}),
    ("DELETE", "/b/k", "uploadId=u", {}, "AbortMultipartUpload",
     {"Bucket": "b", "Key": "k", "UploadId": "u"}),
    ("DELETE", "/b/k", "", {}, "DeleteObject", {"Bucket": "b", "Key": "k"}),
    # Smithy-based SDKs name the operation in x-id; it decides between same-shaped routes.
    ("GET", "/b/k", "x-id=GetObject", {}, "GetObject", {"Bucket": "b", "Key": "k"}),
]


@pytest.mark.parametrize("method, path, query, headers, operation, params", S3_ROUTES,
                         ids=[f"{c[0]} {c[1]}?{c[2]}" for c in S3_ROUTES])
def test_s3_routes_by_method_path_and_subresource(method, path, query, headers, operation,
                                                   params):
    assert parse("s3", HttpRequest(method, path, query, headers)) == (operation, params)


def test_s3_user_metadata_keys_come_lower_cased_without_their_prefix():
    headers = {"x-amz-meta-owner": "me", "x-amz-meta-run-id": "7"}
    _, params = parse("s3", HttpRequest("PUT", "/b/k", "", headers, b"x"))
    assert params["Metadata"] == {"owner": "me", "run-id": "7"}


async def _chunks():
    yield b"data"


def test_a_streaming_payload_is_the_stream_itself_when_the_gateway_hands_one_over():
    stream = _chunks()
    _, params = parse("s3", HttpRequest("PUT", "/b/k", "", {}, b"", stream))
    assert params["Body"] is stream


def test_a_streaming_payload_is_the_body_bytes_without_a_stream():
    assert parse("s3", HttpRequest("PUT", "/b/k", "", {}, b"data"))[1]["Body"] == b"data"


@pytest.mark.parametrize("service, request_, expected", [
    ("events", HttpRequest("POST", "/", "", {"x-amz-target": "AWSEvents.PutEvents"},
                           b'{"Entries": [{"Time": 1767225600.5}]}'),
     datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    ("s3", HttpRequest("GET", "/b/k", "", {"if-modified-since": "Thu, 01 Jan 2026 00:00:00 GMT"}),
     datetime(2026, 1, 1, tzinfo=UTC)),
    ("sqs", HttpRequest("POST", "/", "", {}, b"Action=ListQueues&Version=2012-11-05"), None),
], ids=["json-epoch-seconds", "header-rfc822", "no-timestamp"])
def test_timestamps_become_aware_utc_datetimes(service, request_, expected):
    _, params = parse(service, request_, "query" if service == "sqs" else None)
    found = [v for v in _walk(params) if isinstance(v, datetime)]
    assert found == ([expected] if expected else [])


def _walk(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def test_a_compressed_request_is_inflated_when_the_model_says_sdks_compress_it():
    form = b"Action=PutMetricData&Version=2010-08-01&Namespace=portside"
    request = HttpRequest("POST", "/", "", {"content-encoding": "gzip"}, gzip.compress(form))
    # CloudWatch, the service with compressed requests, is query-compatible (CBOR by model).
    assert parse("cloudwatch", request, "query") == ("PutMetricData", {"Namespace": "portside"})


def test_content_encoding_of_an_s3_object_is_left_alone():
    body = gzip.compress(b"data")
    headers = {"content-encoding": "gzip"}
    _, params = parse("s3", HttpRequest("PUT", "/b/k", "", headers, body))
    assert params["Body"] == body and params["ContentEncoding"] == "gzip"


def _json(target: str, body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", {"x-amz-target": target}, body)


ERRORS = [
    ("ecs", _json("", b"{}"), None, "UnknownOperationException", 400),
    ("ecs", _json("AmazonEC2ContainerServiceV20141113.Nope", b"{}"), None,
     "UnknownOperationException", 400),
    ("ecs", _json("AmazonSQS.SendMessage", b"{}"), None, "UnknownOperationException", 400),
    ("ecs", _json("AmazonEC2ContainerServiceV20141113.RunTask", b"{not json"), None,
     "SerializationException", 400),
    ("ecs", _json("AmazonEC2ContainerServiceV20141113.RunTask", b"[1, 2]"), None,
     "SerializationException", 400),
    ("ecs", _json("AmazonEC2ContainerServiceV20141113.RunTask", b'{"count": "two"}'), None,
     "SerializationException", 400),
    ("ecs", _json("AmazonEC2ContainerServiceV20141113.RunTask", b'{"count": 9999999999}'), None,
     "SerializationException", 400),
    ("sqs", _json("AmazonSQS.SendMessage", b'{"MessageAttributes": {"a": {"BinaryValue": "!"}}}'),
     None, "SerializationException", 400),
    ("sts", HttpRequest("POST", "/", "", {}, b"Version=2011-06-15"), None, "MissingAction", 400),
    ("sts", HttpRequest("POST", "/", "", {}, b"Action=Nope"), None, "InvalidAction", 400),
    ("sts", HttpRequest("POST", "/", "", {}, b"Action=AssumeRole&DurationSeconds=soon"), None,
     "ValidationError", 400),
    ("sts", HttpRequest("POST", "/", "", {}, b"Action=GetCallerIdentity&x=%ff"), None,
     "InvalidQueryParameter", 400),
    ("sqs", HttpRequest("POST", "/", "", {}, b"Action=SendMessage&DelaySeconds=1.5"), "query",
     "InvalidParameterValue", 400),
    ("s3", HttpRequest("PATCH", "/b/k"), None, "MethodNotAllowed", 405),
    ("s3", HttpRequest("GET", "/b", "list-type=2&max-keys=many"), None, "InvalidArgument", 400),
    ("s3", HttpRequest("PUT", "/b", "tagging", {}, b"<Tagging><TagSet>"), None, "MalformedXML",
     400),
    ("s3", HttpRequest("PUT", "/b", "tagging", {},
                       b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><Tagging>&a;'
                       b"</Tagging>"), None, "MalformedXML", 400),
    ("s3", HttpRequest("PUT", "/b", "lifecycle", {},
                       b"<LifecycleConfiguration><Rule><Expiration><Days>soon</Days>"
                       b"</Expiration></Rule></LifecycleConfiguration>"), None, "MalformedXML",
     400),
    ("eks", HttpRequest("GET", "/no/such/route"), None, "UnknownOperationException", 404),
    ("eks", HttpRequest("POST", "/clusters", "", {}, b"{"), None, "SerializationException", 400),
    ("eks", HttpRequest("GET", "/clusters", "maxResults=ten"), None, "ValidationException", 400),
    ("ec2", HttpRequest("POST", "/", "", {}, b"Action=DescribeInstances"), None, "NotImplemented",
     501),
]


@pytest.mark.parametrize("service, request_, protocol, code, status", ERRORS,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(ERRORS)])
def test_bad_requests_get_the_aws_error(service, request_, protocol, code, status):
    with pytest.raises(AwsError) as raised:
        parse(service, request_, protocol)
    assert (raised.value.code, raised.value.status) == (code, status)


def test_a_value_that_does_not_parse_is_named_as_aws_names_members():
    request = HttpRequest("POST", "/", "", {}, b"Action=AssumeRole&DurationSeconds=soon")
    with pytest.raises(AwsError) as raised:
        parse("sts", request)
    assert raised.value.message == (
        "1 validation error detected: Value 'soon' at 'durationSeconds' failed to satisfy "
        "constraint: Member must be an integer")
