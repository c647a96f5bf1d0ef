"""The query-protocol model of a json service that was once served with query (SQS).

SQS moved from the query protocol to json 1.0 but keeps the `awsQueryCompatible` trait: old SDKs
still speak query to it, and json errors carry the legacy query code in `x-amzn-query-error`.
botocore's json model of SQS no longer holds what query needs — the XML element names
(`<QueueUrl>`, `<Attribute><Name>…</Name><Value>…</Value></Attribute>`), the `…Result` wrappers,
the XML namespace and the legacy error codes (`AWS.SimpleQueueService.NonExistentQueue`). This
module rebuilds that model from the json one plus the facts below (Smithy's `xmlName`,
`xmlFlattened` and `awsQueryError` traits of SQS), so the generic query parser and serializer need
no SQS special cases.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import ServiceModel


@dataclass(frozen=True)
class QueryDialect:
    namespace: str
    member_names: dict[str, dict[str, str]]  # structure -> member -> XML name (flattened)
    map_entry_names: dict[str, tuple[str, str]]  # map shape -> (key element, value element)
    errors: dict[str, tuple[str, int]]  # error shape -> (query error code, HTTP status)


_SQS_ATTRIBUTE_VALUE = {
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
}
_SQS_BATCH_FAILED = "BatchResultErrorEntry"

SQS = QueryDialect(
    namespace="http://queue.amazonaws.com/doc/2012-11-05/",
    member_names={
        "AddPermissionRequest": {"AWSAccountIds": "AWSAccountId", "Actions": "ActionName"},
        "ChangeMessageVisibilityBatchRequest": {
            "Entries": "ChangeMessageVisibilityBatchRequestEntry"
        },
        "ChangeMessageVisibilityBatchResult": {
            "Successful": "ChangeMessageVisibilityBatchResultEntry",
            "Failed": _SQS_BATCH_FAILED,
        },
        "CreateQueueRequest": {"Attributes": "Attribute", "tags": "Tag"},
        "DeleteMessageBatchRequest": {"Entries": "DeleteMessageBatchRequestEntry"},
        "DeleteMessageBatchResult": {
            "Successful": "DeleteMessageBatchResultEntry",
            "Failed": _SQS_BATCH_FAILED,
        },
        "GetQueueAttributesRequest": {"AttributeNames": "AttributeName"},
        "GetQueueAttributesResult": {"Attributes": "Attribute"},
        "ListDeadLetterSourceQueuesResult": {"queueUrls": "QueueUrl"},
        "ListMessageMoveTasksResult": {"Results": "ListMessageMoveTasksResultEntry"},
        "ListQueuesResult": {"QueueUrls": "QueueUrl"},
        "ListQueueTagsResult": {"Tags": "Tag"},
        "Message": {"Attributes": "Attribute", "MessageAttributes": "MessageAttribute"},
        "MessageAttributeValue": _SQS_ATTRIBUTE_VALUE,
        "MessageSystemAttributeValue": _SQS_ATTRIBUTE_VALUE,
        "ReceiveMessageRequest": {
            "AttributeNames": "AttributeName",
            "MessageSystemAttributeNames": "AttributeName",
            "MessageAttributeNames": "MessageAttributeName",
        },
        "ReceiveMessageResult": {"Messages": "Message"},
        "SendMessageBatchRequest": {"Entries": "SendMessageBatchRequestEntry"},
        "SendMessageBatchRequestEntry": {
            "MessageAttributes": "MessageAttribute",
            "MessageSystemAttributes": "MessageSystemAttribute",
        },
        "SendMessageBatchResult": {
            "Successful": "SendMessageBatchResultEntry",
            "Failed": _SQS_BATCH_FAILED,
        },
        "SendMessageRequest": {
            "MessageAttributes": "MessageAttribute",
            "MessageSystemAttributes": "MessageSystemAttribute",
        },
        "SetQueueAttributesRequest": {"Attributes": "Attribute"},
        "TagQueueRequest": {"Tags": "Tag"},
        "UntagQueueRequest": {"TagKeys": "TagKey"},
    },
    map_entry_names={
        "MessageBodyAttributeMap": ("Name", "Value"),
        "MessageBodySystemAttributeMap": ("Name", "Value"),
        "MessageSystemAttributeMap": ("Name", "Value"),
        "QueueAttributeMap": ("Name", "Value"),
        "TagMap": ("Key", "Value"),
    },
    errors={
        "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
        "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
        "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
        "InvalidAddress": ("InvalidAddress", 404),
        "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
        "InvalidSecurity": ("InvalidSecurity", 403),
        "KmsAccessDenied": ("KMS.AccessDeniedException", 400),
        "KmsDisabled": ("KMS.DisabledException", 400),
        "KmsInvalidKeyUsage": ("KMS.InvalidKeyUsageException", 400),
        "KmsInvalidState": ("KMS.InvalidStateException", 400),
        "KmsNotFound": ("KMS.NotFoundException", 400),
        "KmsOptInRequired": ("KMS.OptInRequired", 403),
        "KmsThrottled": ("KMS.ThrottlingException", 400),
        "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
        "OverLimit": ("OverLimit", 403),
        "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
        "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
        "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
        "QueueNameExists": ("QueueAlreadyExists", 400),
        "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
        "RequestThrottled": ("RequestThrottled", 403),
        "ResourceNotFoundException": ("ResourceNotFoundException", 404),
        "TooManyEntriesInBatchRequest": (
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
        ),
        "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
    },
)

DIALECTS: dict[str, QueryDialect] = {"SQS": SQS}  # by serviceId


def default_namespace(metadata: dict[str, Any]) -> str:
    """The XML namespace of a query service's responses, as AWS names them."""
    return metadata.get("xmlNamespace") or (
        f"https://{metadata.get('endpointPrefix', '')}.amazonaws.com/doc/"
        f"{metadata.get('apiVersion', '')}/"
    )


@cache
def query_model(service: ServiceModel) -> ServiceModel:
    """`service` as the query protocol serves it: itself for query services, else rebuilt.

    Built once per service model: the copy is as large as the model, and every query request of
    the service uses it.
    """
    if service.metadata.get("protocol") == "query":
        return service
    # botocore keeps the raw description private; it is the only way to derive a variant model.
    description = copy.deepcopy(service._service_description)
    dialect = DIALECTS.get(service.metadata.get("serviceId", ""))
    metadata = description["metadata"]
    metadata["protocol"] = "query"
    metadata["protocols"] = ["query"]
    metadata["xmlNamespace"] = dialect.namespace if dialect else default_namespace(metadata)
    for name, operation in description.get("operations", {}).items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
    if dialect is not None:
        _apply_dialect(description["shapes"], dialect)
    return ServiceModel(description)


def _apply_dialect(shapes: dict[str, Any], dialect: QueryDialect) -> None:
    for structure, names in dialect.member_names.items():
        members = shapes[structure]["members"]
        for member, xml_name in names.items():
            members[member]["locationName"] = xml_name
            members[member]["flattened"] = True
    for map_shape, (key, value) in dialect.map_entry_names.items():
        shapes[map_shape]["key"]["locationName"] = key
        shapes[map_shape]["value"]["locationName"] = value
    for error_shape, (code, status) in dialect.errors.items():
        shapes[error_shape]["error"] = {
            "code": code,
            "httpStatusCode": status,
            "senderFault": status < 500,
        }
