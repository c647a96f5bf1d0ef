"""Secrets Manager and Parameter Store as portside's other parts use them in-process: the
values ECS injects into containers (valueFrom, also from another Region), the IAM check for
them, and the purge of secrets whose recovery window has ended; values sealed under the data
directory's key."""

from __future__ import annotations

import json

import pytest

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime
from portside.store.sealed import new_key_text

ACCOUNT = "000000000000"


def ctx(region: str = "us-east-1") -> RequestContext:
    return RequestContext(ACCOUNT, region, Principal.root(ACCOUNT), None, "req", "127.0.0.1")


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def sm(runtime):
    return runtime.services["secretsmanager"]


@pytest.fixture
def ssm(runtime):
    return runtime.services["ssm"]


def code_of(call) -> str:
    with pytest.raises(AwsError) as info:
        call()
    return info.value.code


def test_a_secret_value_from_resolves_whole_or_by_json_key(sm):
    document = {"user": "admin", "password": "pw", "port": 5432}
    arn = sm.create_secret(ctx(), {"Name": "db", "SecretString": json.dumps(document),
                                   "ClientRequestToken": "t" * 32})["ARN"]
    assert json.loads(sm.resolve_secret_value(ctx(), arn)) == document
    assert sm.resolve_secret_value(ctx(), f"{arn}:password::") == "pw"
    assert sm.resolve_secret_value(ctx(), f"{arn}:port::") == "5432"
    assert code_of(lambda: sm.resolve_secret_value(ctx(), f"{arn}:missing::")) == \
        "InvalidRequestException"


def test_a_secret_value_from_selects_a_stage_or_a_version(sm):
    arn = sm.create_secret(ctx(), {"Name": "rotating", "SecretString": "old",
                                   "ClientRequestToken": "1" * 32})["ARN"]
    sm.put_secret_value(ctx(), {"SecretId": arn, "SecretString": "new",
                                "ClientRequestToken": "2" * 32})
    assert sm.resolve_secret_value(ctx(), arn) == "new"
    assert sm.resolve_secret_value(ctx(), f"{arn}::AWSPREVIOUS:") == "old"
    assert sm.resolve_secret_value(ctx(), f"{arn}:::{'1' * 32}") == "old"
    partial = arn[:-7]
    assert sm.resolve_secret_value(ctx(), partial) == "new"


def test_a_secret_of_another_region_of_the_account_resolves(sm):
    arn = sm.create_secret(ctx("eu-west-1"), {"Name": "far", "SecretString": "v"})["ARN"]
    assert sm.resolve_secret_value(ctx("us-east-1"), arn) == "v"
    check = sm.value_from_check(ctx("us-east-1"), f"{arn}:key::")
    assert (check.action, check.resource) == ("secretsmanager:GetSecretValue", arn)


def test_unreadable_secrets_raise_their_aws_error(sm):
    missing = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:gone-AbCdEf"
    assert code_of(lambda: sm.resolve_secret_value(ctx(), missing)) == \
        "ResourceNotFoundException"
    assert code_of(lambda: sm.resolve_secret_value(ctx(), "just-a-name")) == \
        "InvalidParameterException"
    binary = sm.create_secret(ctx(), {"Name": "bin", "SecretBinary": b"\x00"})["ARN"]
    assert code_of(lambda: sm.resolve_secret_value(ctx(), binary)) == "InvalidRequestException"
    deleted = sm.create_secret(ctx(), {"Name": "deleted", "SecretString": "v"})["ARN"]
    sm.delete_secret(ctx(), {"SecretId": deleted})
    assert code_of(lambda: sm.resolve_secret_value(ctx(), deleted)) == "InvalidRequestException"


def test_a_parameter_value_from_resolves_by_name_or_arn(ssm):
    ssm.put_parameter(ctx(), {"Name": "/app/token", "Value": "t0k3n", "Type": "SecureString"})
    ssm.put_parameter(ctx("eu-west-1"), {"Name": "plain", "Value": "p", "Type": "String"})
    assert ssm.resolve_secret_value(ctx(), "/app/token") == "t0k3n"
    far = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/plain"
    assert ssm.resolve_secret_value(ctx(), far) == "p"
    assert ssm.resolve_secret_value(ctx(), "/app/token:1") == "t0k3n"
    assert code_of(lambda: ssm.resolve_secret_value(ctx(), "/app/none")) == "ParameterNotFound"
    check = ssm.value_from_check(ctx(), "/app/token")
    assert (check.action, check.resource) == (
        "ssm:GetParameters", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/token")


def test_secrets_past_their_recovery_window_are_purged(sm):
    arn = sm.create_secret(ctx(), {"Name": "purged", "SecretString": "v"})["ARN"]
    kept = sm.create_secret(ctx(), {"Name": "kept", "SecretString": "v"})["ARN"]
    deleted = sm.delete_secret(ctx(), {"SecretId": arn, "RecoveryWindowInDays": 7})
    assert sm.purge(deleted["DeletionDate"] - 1) == []
    assert sm.purge(deleted["DeletionDate"]) == [arn]
    assert code_of(lambda: sm.describe_secret(ctx(), {"SecretId": arn})) == \
        "ResourceNotFoundException"
    assert sm.describe_secret(ctx(), {"SecretId": kept})["ARN"] == kept
    sm.create_secret(ctx(), {"Name": "purged", "SecretString": "again"})


def test_values_do_not_open_under_another_master_key(tmp_path):
    first = Runtime(Settings(data_dir=tmp_path / "data", master_key=new_key_text()))
    first.services["secretsmanager"].create_secret(ctx(), {"Name": "s", "SecretString": "v"})
    first.services["ssm"].put_parameter(ctx(), {"Name": "p", "Value": "v",
                                                "Type": "SecureString"})
    first.close()
    second = Runtime(Settings(data_dir=tmp_path / "data", master_key=new_key_text()))
    try:
        assert code_of(lambda: second.services["secretsmanager"].get_secret_value(
            ctx(), {"SecretId": "s"})) == "DecryptionFailure"
        with pytest.raises(AwsError) as info:
            second.services["ssm"].get_parameter(ctx(), {"Name": "p", "WithDecryption": True})
        assert info.value.status == 500 and "v" not in info.value.message.split()
        assert not (tmp_path / "data" / "master.key").exists()
    finally:
        second.close()
