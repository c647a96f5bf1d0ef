"""What every service has in common: handler lookup by operation name, health, reset."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from botocore import xform_name
from botocore.model import ServiceModel

from portside.auth.actions import Action, Check, checks_for
from portside.auth.policy import PolicyKind
from portside.protocol.models import service_model

if TYPE_CHECKING:
    from portside.context import RequestContext
    from portside.runtime import Runtime

Handler = Callable[..., Any]


@dataclass(frozen=True)
class ResourcePolicy:
    """A resource's own policy (bucket policy, queue policy, a role's trust policy…) and the
    account that owns the resource."""

    document: str | None  # None: the resource has no policy, but its owner is known
    account_id: str
    kind: PolicyKind = PolicyKind.RESOURCE


class Service:
    """A service of portside. Subclasses set `name` (botocore's service name) and define one
    method per AWS operation they implement, named in snake_case after it."""

    name: ClassVar[str]
    # The services portside plans but does not serve yet answer every operation with a 501.
    implemented: ClassVar[bool] = True
    # Services whose payloads are data (S3 objects) take request bodies as streams; for the
    # others the gateway reads the body before authenticating.
    streams_requests: ClassVar[bool] = False
    # operation -> the IAM actions it needs, where they differ from `<prefix>:<Operation>` on "*"
    actions: ClassVar[dict[str, Action | tuple[Action, ...]]] = {}
    # Operations CloudTrail counts as data events (SQS's SendMessage …): its event history
    # (LookupEvents) never shows them, and portside has no trails whose selectors could.
    # https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html
    data_events: ClassVar[frozenset[str]] = frozenset()

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

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """What IAM must allow before the handler runs."""
        return checks_for(self.model.signing_name, self.actions, ctx, operation, params,
                          self.condition_keys(ctx, operation, params))

    def condition_keys(self, ctx: RequestContext, operation: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        """Service-specific condition keys of a call (`s3:prefix`, `aws:RequestTag/…`)."""
        return {}

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        """The policy attached to a resource, for services that have resource policies."""
        return None

    def health(self) -> str:
        return "running" if self.implemented else "not implemented"

    def start(self) -> None:
        """Called once the runtime is open; services with background work start it here."""

    def background(self) -> list[Coroutine[Any, Any, None]]:
        """Loops the service runs beside requests (expiry, retention…); started with the server."""
        return []

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
