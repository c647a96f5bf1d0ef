"""The request context every handler receives: who calls, where, and which request this is."""

from __future__ import annotations

from dataclasses import dataclass

from portside.auth.identity import Principal


@dataclass
class RequestContext:
    account_id: str  # the account the request acts in: the caller's own account
    region: str  # from the SigV4 credential scope
    principal: Principal
    access_key_id: str | None
    request_id: str
    source_ip: str
    user_agent: str = ""
    service: str = ""  # botocore service name
    operation: str = ""  # the AWS operation name, e.g. GetCallerIdentity
    secure_transport: bool = False  # aws:SecureTransport: the request came over TLS
    host: str = ""  # the Host header: how the client reached portside (SQS queue URLs use it)
    # A service acting for a resource (an EventBridge rule sending to a queue): the condition
    # keys aws:SourceArn and aws:SourceAccount, which resource policies test against confused
    # deputies.
    source_arn: str | None = None
    source_account: str | None = None
