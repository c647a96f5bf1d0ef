"""Every Secrets Manager and Parameter Store operation portside serves, called in-process with
requests the model accepts (names, ids, labels and values drawn from small pools, so that calls
meet the secrets and parameters earlier calls made): each answers or raises a 4xx AWS error,
never anything else."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.protocol.validate import validate_params
from portside.runtime import Runtime

ACCOUNT = "000000000000"
CTX = RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), None, "req", "127.0.0.1")
ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
# Values that mean something to these services, mixed with noise.
POOL = st.sampled_from([
    "db", "app/db", "/app", "/app/db", "/app/db:1", "/app/db:prod", "a", "/a/b/c", "prod",
    "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING", f"{ARN}db", f"{ARN}db-AbCdEf", "arn:aws:ssm:"
    f"us-east-1:{ACCOUNT}:parameter/app/db", "/aws/reference/secretsmanager/db", "String",
    "SecureString", "StringList", "Standard", "Advanced", "Intelligent-Tiering", "text",
    "aws:ec2:image", "alias/aws/ssm", "^x+$", "(", "*", "!db", "name", "tag-key", "all",
    "Parameter", "Name", "Path", "Type", "Label", "tag:env", "Equals", "BeginsWith",
    "Recursive", "OneLevel", "1" * 32, "2" * 32, '{"Version":"2012-10-17","Statement":[{"Effect"'
    ':"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}]}', "{", "x" * 5000,
])
WORDS = POOL | st.text(max_size=12)


@st.composite
def value_of(draw: st.DrawFn, shape: Shape, depth: int = 0) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        wanted = set(shape.required_members)
        if members and depth < 3:
            wanted |= set(draw(st.lists(st.sampled_from(sorted(members)), max_size=5)))
        return {n: draw(value_of(members[n], depth + 1)) for n in wanted if n in members}
    if kind == "list":
        return draw(st.lists(value_of(shape.member, depth + 1), max_size=0 if depth > 2 else 4))
    if kind == "map":
        return draw(st.dictionaries(WORDS, value_of(shape.value, depth + 1), max_size=2))
    if kind in ("integer", "long"):
        return draw(st.integers(-2, 120) | st.integers(-(2**40), 2**40))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "timestamp":
        return draw(st.datetimes(timezones=st.just(UTC)))
    if kind == "blob":
        return draw(st.binary(min_size=1, max_size=8))
    enum = shape.metadata.get("enum")
    return draw(st.sampled_from(enum) | WORDS if enum else WORDS)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data"))
    secrets, ssm = runtime.services["secretsmanager"], runtime.services["ssm"]
    secrets.create_secret(CTX, {"Name": "db", "SecretString": "v", "ClientRequestToken": "1" * 32})
    secrets.create_secret(CTX, {"Name": "app/db", "SecretBinary": b"v"})
    for value in ("one", "two"):
        ssm.put_parameter(CTX, {"Name": "/app/db", "Value": value, "Type": "String",
                                "Overwrite": True})
    ssm.label_parameter_version(CTX, {"Name": "/app/db", "ParameterVersion": 1,
                                      "Labels": ["prod"]})
    ssm.put_parameter(CTX, {"Name": "a", "Value": "s", "Type": "SecureString"})
    yield runtime
    runtime.close()


def served(name: str) -> list[str]:
    from portside.protocol.models import service_model
    from portside.runtime import SERVICES

    service = next(cls for cls in SERVICES if cls.name == name)
    return [op for op in service_model(name).operation_names
            if callable(getattr(service, _snake(op), None))]


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


CALLS = [("secretsmanager", op) for op in served("secretsmanager")] + \
        [("ssm", op) for op in served("ssm")]


@st.composite
def calls(draw: st.DrawFn, runtime: Runtime) -> tuple[str, str, dict[str, Any]]:
    name, operation = draw(st.sampled_from(CALLS))
    model = runtime.services[name].model.operation_model(operation)
    return name, operation, draw(value_of(model.input_shape))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_operation_answers_or_raises_a_client_error(runtime, data):
    name, operation, params = data.draw(calls(runtime))
    service = runtime.services[name]
    model = service.model.operation_model(operation)
    try:
        validate_params(model, params, "json")
    except AwsError:
        return  # the gateway refuses it before any handler runs
    try:
        service.handler(operation)(CTX, params)
    except AwsError as exc:
        assert exc.status < 500 or exc.code == "InternalServerError", (operation, exc)
