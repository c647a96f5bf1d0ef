"""STS operations."""

from __future__ import annotations

from typing import Any

from portside.context import RequestContext
from portside.services.base import Service


class Sts(Service):
    name = "sts"

    def get_caller_identity(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        p = ctx.principal
        return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}
