"""RunTask's `networkConfiguration`, checked as ECS checks it.

An `awsvpc` task needs one, with 1–16 subnets and at most 5 security groups; other network
modes may not have one; a public IP is for Fargate only. portside models no VPCs yet: any
well-formed `subnet-…` and `sg-…` id is accepted (DESIGN.md, "Interfaces users see").
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portside.services.ecs.common import invalid

MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
_SUBNET = re.compile(r"subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?")
_SECURITY_GROUP = re.compile(r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?")


def check(network_mode: str, configuration: Mapping[str, Any] | None,
          fargate: bool) -> dict[str, Any] | None:
    """The awsvpcConfiguration a task uses, or None for the other network modes."""
    vpc = (configuration or {}).get("awsvpcConfiguration")
    if network_mode != "awsvpc":
        if vpc is not None:
            raise invalid("Network Configuration is not valid for the given networkMode of "
                          "this task definition.")
        return None
    if vpc is None:
        raise invalid("Network Configuration must be provided when networkMode 'awsvpc' is "
                      "specified.")
    subnets = vpc.get("subnets") or []
    if not 1 <= len(subnets) <= MAX_SUBNETS:
        raise invalid(f"subnets can have at least 1 and at most {MAX_SUBNETS} items.")
    for subnet in subnets:
        if not _SUBNET.fullmatch(subnet):
            raise invalid(f"Error retrieving subnet information for [{subnet}]: The subnet ID "
                          f"'{subnet}' is malformed")
    groups = vpc.get("securityGroups") or []
    if len(groups) > MAX_SECURITY_GROUPS:
        raise invalid(f"securityGroups can have at most {MAX_SECURITY_GROUPS} items.")
    for group in groups:
        if not _SECURITY_GROUP.fullmatch(group):
            raise invalid(f"Error retrieving security group information for [{group}]: The "
                          f"security group ID '{group}' is malformed")
    if vpc.get("assignPublicIp") == "ENABLED" and not fargate:
        raise invalid("Assign public IP is not supported for this launch type.")
    return {"subnets": list(subnets), "securityGroups": list(groups),
            "assignPublicIp": vpc.get("assignPublicIp", "DISABLED")}
