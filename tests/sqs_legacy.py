"""SQS as SDKs from before its move to JSON speak it: a botocore client built from SQS's query
model (the query protocol, `Action=SendMessage&…` forms, XML answers)."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
from botocore.client import BaseClient
from botocore.config import Config

from portside.protocol.models import service_model
from portside.protocol.query_compat import query_model


def legacy_sqs_data(root: Path) -> Path:
    """A botocore data path under `root` holding SQS's query model."""
    description = json.loads(json.dumps(query_model(service_model("sqs"))._service_description))
    description["metadata"].pop("awsQueryCompatible")
    target = root / "sqs" / "2012-11-05"
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(description))
    return root


def legacy_sqs_client(endpoint: str, data_path: Path, region: str = "us-east-1") -> BaseClient:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data_path))
    return session.create_client(
        "sqs", region_name=region, endpoint_url=endpoint, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}))
