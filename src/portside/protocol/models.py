"""botocore's service models: the wire spec of every AWS API portside speaks.

Models load lazily, once per process: most requests touch a handful of services, and loading
every model would cost start-up time and memory.
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

_loader = Loader()


@cache
def service_model(name: str) -> ServiceModel:
    """The model of a service by its botocore name (`ecs`, `s3`, `sts`, …)."""
    return ServiceModel(_loader.load_service_model(name, "service-2"), service_name=name)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)
