"""botocore's service models: the wire spec of every AWS API portside speaks.

Models load lazily, once per process: most requests touch a handful of services, and loading
every model would cost start-up time and memory. They load as plain dicts without their
documentation strings, which portside never reads: a model then takes about 40% of the memory
botocore's own loader gives it (ECS: 1.2 MB instead of 2.9 MB).
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from typing import Any

from botocore.loaders import JSONFileLoader, Loader
from botocore.model import OperationModel, ServiceModel

_DOCUMENTATION = ("documentation", "documentationUrl")


def _without_documentation(obj: dict[str, Any]) -> dict[str, Any]:
    for key in _DOCUMENTATION:
        # Only a string is documentation: a member that happened to be named so is a dict.
        # Emptied, not deleted: botocore's clients read some of them (client context
        # parameters' `documentation`), and the empty string is shared.
        if isinstance(obj.get(key), str):
            obj[key] = ""
    return obj


class _SlimFileLoader(JSONFileLoader):
    """botocore's data files read into plain dicts (botocore reads OrderedDicts, which take
    more memory and keep the same order), leaving out documentation."""

    def load_file(self, file_path: str) -> Any:
        for extension, opener in ((".json", open), (".json.gz", gzip.open)):
            path = file_path + extension
            if os.path.isfile(path):
                with opener(path, "rb") as f:
                    return json.loads(f.read(), object_hook=_without_documentation)
        return None


# Shared with the botocore session of `portside up`'s in-process agents, so that a model both
# load is held once.
loader = Loader(file_loader=_SlimFileLoader())


@cache
def service_model(name: str) -> ServiceModel:
    """The model of a service by its botocore name (`ecs`, `s3`, `sts`, …)."""
    return ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)
