"""What every service has in common: handler lookup by operation name, health, reset."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from botocore import xform_name
from botocore.model import ServiceModel

from portside.protocol.models import service_model

if TYPE_CHECKING:
    from portside.runtime import Runtime

Handler = Callable[..., Any]


class Service:
    """A service of portside. Subclasses set `name` (botocore's service name) and define one
    method per AWS operation they implement, named in snake_case after it."""

    name: ClassVar[str]
    # The services portside plans but does not serve yet answer every operation with a 501.
    implemented: ClassVar[bool] = True
    # Services whose payloads are data (S3 objects) take request bodies as streams; for the
    # others the gateway reads the body before authenticating.
    streams_requests: ClassVar[bool] = False

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._handlers: dict[str, Handler | None] = {}

    @cached_property
    def model(self) -> ServiceModel:
        return service_model(self.name)

    def handler(self, operation: str) -> Handler | None:
        """The method serving `operation`, or None when portside does not implement it."""
        try:
            return self._handlers[operation]
        except KeyError:
            method = getattr(self, xform_name(operation), None)
            found = method if inspect.ismethod(method) and operation[:1].isupper() else None
            self._handlers[operation] = found
            return found

    def health(self) -> str:
        return "running" if self.implemented else "not implemented"

    def start(self) -> None:
        """Called once the runtime is open; services with background work start it here."""

    def reset(self) -> None:
        """Forget in-memory state after the store was wiped (`POST /_portside/reset`)."""


class PlannedService(Service):
    """A service in portside's plan that answers `NotImplemented` (501) until it is built."""

    implemented = False

    def __init__(self, runtime: Runtime, name: str) -> None:
        super().__init__(runtime)
        self.name = name  # type: ignore[misc]

    def handler(self, operation: str) -> Handler | None:
        return None
