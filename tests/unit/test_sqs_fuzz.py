"""Any well-typed SQS call gets an answer or a 4xx AWS error from the handlers, never a crash:
hypothesis draws the parameters of every operation from the model, aimed at real queues and
receipt handles half of the time."""

from __future__ import annotations

import asyncio
import inspect
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parsers_fuzz import typed_value

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.protocol.validate import validate_params
from portside.runtime import Runtime

ACCOUNT = "000000000000"
_runtime: Runtime | None = None


def sqs():
    """One runtime for the module, with a standard and a FIFO queue holding messages."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings(data_dir=Path(tempfile.mkdtemp()) / "data"))
        service = _runtime.services["sqs"]
        for name, attributes in (("fuzz", {}), ("fuzz.fifo", {"FifoQueue": "true"})):
            run(service.create_queue(context(), {"QueueName": name, "Attributes": attributes}))
    return _runtime.services["sqs"]


def context() -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), "test", "r",
                          "127.0.0.1", host="localhost:4566")


def run(result):
    return asyncio.run(result) if inspect.isawaitable(result) else result


OPERATIONS = sorted(op for op in sqs().model.operation_names if sqs().handler(op) is not None)
URLS = [f"http://localhost:4566/{ACCOUNT}/fuzz", f"http://localhost:4566/{ACCOUNT}/fuzz.fifo"]


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict]:
    operation = draw(st.sampled_from(OPERATIONS))
    params = draw(typed_value(sqs().model.operation_model(operation).input_shape))
    if "QueueUrl" in params and draw(st.booleans()):
        params["QueueUrl"] = draw(st.sampled_from(URLS))
    if operation == "ReceiveMessage":
        params["WaitTimeSeconds"] = 0  # a long poll would only make the test slow
    return operation, params


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls())
def test_handlers_answer_or_raise_a_4xx_aws_error(call):
    operation, params = call
    service = sqs()
    try:
        validate_params(service.model.operation_model(operation), params, "json")
        result = run(service.handler(operation)(context(), params))
    except AwsError as exc:
        assert 400 <= exc.status < 500, exc
        return
    assert isinstance(result, dict)
