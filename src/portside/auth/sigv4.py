"""AWS Signature Version 4, checked on the server side (and signed, for the agent's requests).

The SDKs sign every request; this module recomputes each signature the way they do and, when it
does not match, says why in the words AWS uses for that protocol. It is pure: the caller looks up
the secret of the access key and passes the clock in. `sign` builds the same canonical request
for the agent's own requests to portside.

Specs: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
(the canonical request), and for S3, whose rules differ in places,
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html and
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (presigned URLs).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_to_bytes

from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRES = 604800  # a presigned URL lives at most seven days, as long as its signing key
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOAD_MARKERS = frozenset(
    {UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_PATH_SAFE = _UNRESERVED | {"/"}
_HEX = frozenset("0123456789abcdef")
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


class Kind(StrEnum):
    """Why a signature was refused; each maps to one AWS error per protocol (`aws_error`)."""

    MISSING = "missing"  # no signature where one is required
    UNSUPPORTED = "unsupported"  # another scheme: SigV2, SigV4a, Bearer…
    INCOMPLETE = "incomplete"  # a part of the signature is absent
    MALFORMED = "malformed"  # a part does not parse
    UNKNOWN_KEY = "unknown_key"  # raised by the caller, who owns the keyring
    BAD_TOKEN = "bad_token"  # raised by the caller: session token wrong or missing
    EXPIRED_TOKEN = "expired_token"  # raised by the caller: temporary credentials expired
    BAD_SCOPE = "bad_scope"  # credential scope names another date, region or service
    SKEWED = "skewed"  # the request's date is more than 15 minutes from now
    EXPIRED = "expired"  # a presigned URL past its X-Amz-Expires
    UNSIGNED_HEADER = "unsigned_header"  # S3: host or an x-amz-* header left out of the signature
    BAD_SIGNATURE = "bad_signature"
    BAD_CONTENT_HASH = "bad_content_hash"  # the body is not the one x-amz-content-sha256 names


class SigV4Error(Exception):
    """A refused signature. `message` is AWS's wording for the query and JSON protocols; S3 words
    most failures its own way and adds members, so the raiser may state those as well."""

    def __init__(self, kind: str, message: str, *, s3_code: str | None = None,
                 s3_status: int | None = None, s3_message: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind = Kind(kind)
        self.message = message
        self.s3_code = s3_code
        self.s3_status = s3_status
        self.s3_message = s3_message
        self.fields = fields or {}  # S3's error members (AWSAccessKeyId, StringToSign, …)

    def __repr__(self) -> str:
        return f"SigV4Error({self.kind.value!r}, {self.message!r})"


def unknown_key(access_key: str) -> SigV4Error:
    """The error for an access key id the keyring does not know."""
    return SigV4Error(Kind.UNKNOWN_KEY, "The security token included in the request is invalid.",
                      fields={"AWSAccessKeyId": access_key})


@dataclass(frozen=True)
class Credential:
    """The access key and credential scope a request was signed with."""

    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SignedRequest:
    """What a request's Authorization header, or its presigned query, claims."""

    credential: Credential
    amz_date: datetime
    timestamp: str  # amz_date as signed: yyyymmddThhmmssZ
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int | None  # X-Amz-Expires, seconds
    session_token: str | None
    payload_hash: str  # x-amz-content-sha256, UNSIGNED-PAYLOAD, or the body's own sha256


@lru_cache(maxsize=4096)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key for one day, region and service: four HMACs, cached as every request needs one."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


# -- parsing --------------------------------------------------------------------------------------


def parse_signature(request: HttpRequest) -> SignedRequest | None:
    """Read the SigV4 signature a request carries; None when it carries none at all (anonymous:
    whether that is allowed is the caller's policy). Raises SigV4Error for a broken one."""
    authorization = request.headers.get("authorization")
    query = request.query_string
    params = _auth_params(query) if "X-Amz-" in query else {}
    presigned = any(name in params for name in _PRESIGN_PARAMS)
    if authorization is not None:
        if presigned:
            raise SigV4Error(
                Kind.MALFORMED, "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                "parameter, Signature query string parameter or the Authorization header should "
                "be specified", s3_code="InvalidArgument")
        return _parse_header(request, authorization)
    if presigned:
        return _parse_presigned(request, params)
    if "AWSAccessKeyId=" in query and "Signature=" in query:
        raise _unsupported("Signature Version 2 is not supported. Please use AWS4-HMAC-SHA256.")
    return None


def _parse_header(request: HttpRequest, authorization: str) -> SignedRequest:
    scheme, _, rest = authorization.partition(" ")
    if scheme != ALGORITHM:
        message = ("Authorization header requires 'Credential' parameter. Authorization header "
                   "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
                   "parameter. Authorization header requires existence of either a 'X-Amz-Date' "
                   f"or a 'Date' header. Authorization={authorization}")
        if scheme in ("AWS", "AWS4-ECDSA-P256-SHA256"):
            raise _unsupported(message)
        raise SigV4Error(Kind.UNSUPPORTED, message, s3_code="InvalidArgument",
                         s3_message="Unsupported Authorization Type",
                         fields={"ArgumentName": "Authorization"})
    parts: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals:
            raise SigV4Error(
                Kind.INCOMPLETE, f"'{item}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{authorization}'.", s3_message=_HEADER_MALFORMED
                + "the authorization header requires three components: Credential, "
                "SignedHeaders, and Signature.")
        parts[name] = value
    headers = request.headers
    amz_date_text = headers.get("x-amz-date")
    date_text = amz_date_text or headers.get("date")
    credential_text, signature = parts.get("Credential"), parts.get("Signature")
    signed_headers = parts.get("SignedHeaders")
    if not (credential_text and signature and signed_headers and date_text):
        missing = [n for n in ("Credential", "Signature", "SignedHeaders") if not parts.get(n)]
        message = " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
        if not date_text:
            message += (" Authorization header requires existence of either a 'X-Amz-Date' or "
                        "a 'Date' header.")
        if missing:
            s3 = {"s3_message": _HEADER_MALFORMED + "the authorization header requires three "
                  "components: Credential, SignedHeaders, and Signature."}
        else:
            s3 = {"s3_code": "AccessDenied", "s3_status": 403,
                  "s3_message": "AWS authentication requires a valid Date or x-amz-date header"}
        raise SigV4Error(Kind.INCOMPLETE, f"{message.strip()} Authorization={authorization}", **s3)
    credential = _parse_credential(credential_text, presigned=False)
    amz_date, timestamp = _parse_date(date_text, bool(amz_date_text), False)
    claimed = headers.get("x-amz-content-sha256")
    if claimed is None and credential.service == "s3":
        raise SigV4Error(Kind.MALFORMED, "Missing required header for this request: "
                         "x-amz-content-sha256", s3_code="InvalidRequest")
    return SignedRequest(
        credential=credential,
        amz_date=amz_date,
        timestamp=timestamp,
        signed_headers=tuple(signed_headers.split(";")),
        signature=signature,
        presigned=False,
        expires=None,
        session_token=headers.get("x-amz-security-token"),
        payload_hash=_payload_hash(request, claimed, credential, presigned=False),
    )


def _parse_presigned(request: HttpRequest, params: dict[str, str]) -> SignedRequest:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders",
                "X-Amz-Date")
    if any(not params.get(name) for name in required):
        raise SigV4Error(
            Kind.INCOMPLETE, "AWS query-string parameters must include 'X-Amz-Algorithm', "
            "'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. "
            "Re-examine the query-string parameters.", s3_code="AuthorizationQueryParametersError",
            s3_message=_PRESIGN_REQUIRES)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _unsupported("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
                           s3_code="AuthorizationQueryParametersError")
    credential = _parse_credential(params["X-Amz-Credential"], presigned=True)
    expires = _parse_expires(params.get("X-Amz-Expires"), required=credential.service == "s3")
    amz_date, timestamp = _parse_date(params["X-Amz-Date"], True, True)
    headers = request.headers
    return SignedRequest(
        credential=credential,
        amz_date=amz_date,
        timestamp=timestamp,
        signed_headers=tuple(params["X-Amz-SignedHeaders"].split(";")),
        signature=params["X-Amz-Signature"],
        presigned=True,
        expires=expires,
        session_token=params.get("X-Amz-Security-Token") or headers.get("x-amz-security-token"),
        payload_hash=_payload_hash(
            request, headers.get("x-amz-content-sha256"), credential, presigned=True),
    )


def _auth_params(query: str) -> dict[str, str]:
    """The X-Amz-* parameters of a query string, decoded; the first of repeated ones."""
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if pair.startswith("X-Amz-"):
            name, _, value = pair.partition("=")
            params.setdefault(name, unquote(value))
    return params


_HEADER_MALFORMED = "The authorization header is malformed; "
_CREDENTIAL_MALFORMED = "Error parsing the X-Amz-Credential parameter; "
_PRESIGN_REQUIRES = ("Query-string authentication version 4 requires the X-Amz-Algorithm, "
                     "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                     "X-Amz-Expires parameters.")


def _s3_malformed(presigned: bool, detail: str, **fields: str) -> dict:
    """S3's code and wording for a bad part, which depend on where the signature was sent."""
    if presigned:
        return {"s3_code": "AuthorizationQueryParametersError",
                "s3_message": _CREDENTIAL_MALFORMED + detail, "fields": fields}
    return {"s3_code": "AuthorizationHeaderMalformed", "s3_message": _HEADER_MALFORMED + detail,
            "fields": fields}


def _unsupported(message: str, **s3: str) -> SigV4Error:
    return SigV4Error(Kind.UNSUPPORTED, message, **s3)


@lru_cache(maxsize=256)  # a client sends the same credential, and the same date, many times
def _parse_credential(text: str, *, presigned: bool) -> Credential:
    pieces = text.split("/")
    if len(pieces) != 5 or not all(pieces[:4]):
        raise SigV4Error(
            Kind.MALFORMED, "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{text}'", **_s3_malformed(
                presigned, "the Credential is mal-formed; expecting "
                "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."))
    access_key, date, region, service, terminator = pieces
    if terminator != "aws4_request":
        raise SigV4Error(
            Kind.BAD_SCOPE, "Credential should be scoped with a valid terminator: "
            f"'aws4_request', not '{terminator}'.", **_s3_malformed(
                presigned, f"incorrect terminal \"{terminator}\". This endpoint uses "
                "\"aws4_request\"."))
    return Credential(access_key, date, region, service)


@lru_cache(maxsize=256)
def _parse_date(text: str, basic: bool, presigned: bool) -> tuple[datetime, str]:
    """The signing time from X-Amz-Date (ISO 8601 basic) or, failing that, the Date header."""
    when = _parse_basic(text) if basic else _parse_http_date(text)
    if when is None:
        s3: dict = ({"s3_code": "AuthorizationQueryParametersError", "s3_message": "X-Amz-Date "
                     "must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""} if presigned
                    else {"s3_code": "AccessDenied", "s3_status": 403, "s3_message":
                          "AWS authentication requires a valid Date or x-amz-date header"})
        raise SigV4Error(Kind.MALFORMED, f"Date must be in ISO-8601 'basic format'. Got '{text}'. "
                         "See http://en.wikipedia.org/wiki/ISO_8601", **s3)
    return when, text if basic else _basic(when)


def _parse_basic(text: str) -> datetime | None:
    # Slices, not strptime: this runs on every request and strptime costs ten times more.
    if (len(text) != 16 or text[8] != "T" or text[15] != "Z" or not text.isascii()
            or not text[:8].isdigit() or not text[9:15].isdigit()):
        return None
    try:
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]),
                        int(text[11:13]), int(text[13:15]), tzinfo=UTC)
    except ValueError:
        return None


def _parse_http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _parse_expires(text: str | None, *, required: bool) -> int | None:
    if text is None:
        if required:
            raise SigV4Error(Kind.INCOMPLETE, _PRESIGN_REQUIRES,
                             s3_code="AuthorizationQueryParametersError")
        return None
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10:
        problem = "X-Amz-Expires should be a number"
    elif text.startswith("-"):
        problem = "X-Amz-Expires must be non-negative"
    elif int(text) > MAX_EXPIRES:
        problem = f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
    else:
        return int(text)
    raise SigV4Error(Kind.MALFORMED, problem, s3_code="AuthorizationQueryParametersError")


def _payload_hash(request: HttpRequest, claimed: str | None, credential: Credential, *,
                  presigned: bool) -> str:
    """The payload line of the canonical request, as the client computed it."""
    if claimed is None:
        if presigned and credential.service == "s3":
            return UNSIGNED_PAYLOAD  # a presigned S3 URL cannot know its body
        return hashlib.sha256(request.body).hexdigest()
    if credential.service == "s3" and claimed not in PAYLOAD_MARKERS and not is_sha256(claimed):
        raise SigV4Error(
            Kind.MALFORMED, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
            s3_code="InvalidArgument", fields={"ArgumentName": "x-amz-content-sha256"})
    return claimed


def is_sha256(text: str) -> bool:
    return len(text) == 64 and _HEX.issuperset(text)


# -- verification ---------------------------------------------------------------------------------


def verify(request: HttpRequest, signed: SignedRequest, secret_key: str, now: datetime, *,
           expected_service: str | None, expected_region: str | None = None) -> None:
    """Check a parsed signature against the secret of its access key; raise SigV4Error if it
    fails. S3's rules apply when the request is for S3: the path is not normalized, the host and
    every x-amz-* header must be signed, and presigned URLs honour X-Amz-Expires."""
    credential = signed.credential
    s3 = (expected_service or credential.service) == "s3"
    _check_scope(signed, expected_service, expected_region)
    _check_time(signed, now, s3)
    _check_signed_headers(request, signed, s3)
    canonical = canonical_request(request, signed, s3=s3)
    to_sign, signature = _signature(signed, canonical, secret_key)
    # Bytes: compare_digest refuses non-ASCII text, and a signature is whatever was sent.
    if not hmac.compare_digest(signature.encode(), signed.signature.encode()):
        raise _signature_mismatch(request, signed, canonical, to_sign)
    _check_body(request, signed, s3)


def sign(request: HttpRequest, access_key: str, secret_key: str, region: str, service: str,
         now: datetime, session_token: str | None = None) -> None:
    """Sign `request` in place, as an SDK does, for portside's own clients (the agent): add
    x-amz-date, x-amz-security-token and Authorization over every header it carries (`host`
    among them). The payload is x-amz-content-sha256 when set (S3), else the body's sha256. The
    canonical request is the one `verify` rebuilds, so the two cannot disagree."""
    headers = request.headers
    timestamp = _basic(now)
    headers["x-amz-date"] = timestamp
    if session_token:
        headers["x-amz-security-token"] = session_token
    credential = Credential(access_key, timestamp[:8], region, service)
    signed = SignedRequest(
        credential=credential, amz_date=now, timestamp=timestamp,
        signed_headers=tuple(sorted(headers)), signature="", presigned=False, expires=None,
        session_token=session_token, payload_hash=headers.get("x-amz-content-sha256")
        or hashlib.sha256(request.body).hexdigest())
    _, signature = _signature(signed, canonical_request(request, signed, s3=service == "s3"),
                              secret_key)
    headers["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{credential.scope}, "
        f"SignedHeaders={';'.join(signed.signed_headers)}, Signature={signature}")


def canonical_request(request: HttpRequest, signed: SignedRequest, *, s3: bool) -> str:
    """The canonical request of the SigV4 spec, rebuilt from the request as received."""
    headers = request.headers
    lines = "".join(f"{name}:{' '.join(headers.get(name.lower(), '').split())}\n"
                    for name in signed.signed_headers)
    query = _canonical_query(request.query_string, signed.presigned)
    return (f"{request.method}\n{_canonical_path(request.path, s3)}\n{query}\n{lines}\n"
            f"{';'.join(signed.signed_headers)}\n{signed.payload_hash}")


def _signature(signed: SignedRequest, canonical: str, secret_key: str) -> tuple[str, str]:
    """The string to sign and its signature (hex): what `sign` sends and `verify` expects."""
    to_sign = string_to_sign(signed, canonical)
    credential = signed.credential
    key = signing_key(secret_key, credential.date, credential.region, credential.service)
    return to_sign, hmac.digest(key, to_sign.encode(), "sha256").hex()


def string_to_sign(signed: SignedRequest, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{signed.timestamp}\n{signed.credential.scope}\n{digest}"


def _canonical_path(path: str, s3: bool) -> str:
    """S3 signs the object key encoded once and never normalized (`a//b/../c` is a key); every
    other service normalizes the path (RFC 3986 dot segments, no empty segments) and encodes
    the once-encoded path again — as the SDKs sign (botocore's `S3SigV4Auth` and `SigV4Auth`)."""
    if not path:
        return "/"
    if not _PATH_SAFE.issuperset(path):
        # Re-encode each segment so that equivalent spellings (%7e, ~) sign alike while an
        # encoded slash inside a segment stays one.
        path = "/".join(quote(unquote_to_bytes(_wire_bytes(part)), safe="")
                        for part in path.split("/"))
    if s3:
        return path
    if "//" in path or "/." in path:
        path = _remove_dot_segments(path)
    return path.replace("%", "%25")


def _remove_dot_segments(path: str) -> str:
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


def _canonical_query(query: str, presigned: bool) -> str:
    """Name=value pairs, each URI-encoded (RFC 3986, space as %20), sorted by name then value;
    a presigned URL's own signature is left out."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        if not pair or (presigned and pair.startswith("X-Amz-Signature=")):
            continue
        name, _, value = pair.partition("=")
        pairs.append((_encode_component(name), _encode_component(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _encode_component(text: str) -> str:
    if _UNRESERVED.issuperset(text):
        return text
    return quote(unquote_to_bytes(_wire_bytes(text)), safe="-_.~")


def _wire_bytes(text: str) -> bytes:
    """The bytes a client sent: the gateway decodes the path and query as latin-1."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _check_scope(signed: SignedRequest, service: str | None, region: str | None) -> None:
    credential, presigned = signed.credential, signed.presigned
    if credential.date != signed.timestamp[:8]:
        raise SigV4Error(
            Kind.BAD_SCOPE, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            f"version of date from HTTP: '{credential.date}' != '{signed.timestamp[:8]}', from "
            f"'{signed.timestamp}'.", **_s3_malformed(
                presigned, "Invalid credential date. Date is not the same as X-Amz-Date."))
    if service is not None and credential.service != service:
        raise SigV4Error(
            Kind.BAD_SCOPE, f"Credential should be scoped to correct service: '{service}'.",
            **_s3_malformed(presigned, f"incorrect service \"{credential.service}\". This "
                            f"endpoint belongs to \"{service}\"."))
    if region is not None and credential.region != region:
        raise SigV4Error(
            Kind.BAD_SCOPE, "Credential should be scoped to a valid region, not "
            f"'{credential.region}'.", **_s3_malformed(
                presigned, f"the region '{credential.region}' is wrong; expecting '{region}'",
                Region=region))


def _check_time(signed: SignedRequest, now: datetime, s3: bool) -> None:
    """15 minutes either side of the clock; an S3 presigned URL instead lives X-Amz-Expires
    seconds. Other services ignore X-Amz-Expires (EKS tokens rely on that: kubectl reuses a
    60-second presigned STS URL for 14 minutes)."""
    age = now - signed.amz_date
    if s3 and signed.presigned and signed.expires is not None and age >= -MAX_SKEW:
        if age > timedelta(seconds=signed.expires):
            raise SigV4Error(Kind.EXPIRED, _expired_message(signed, now), fields={
                "X-Amz-Expires": str(signed.expires),
                "Expires": _iso(signed.amz_date + timedelta(seconds=signed.expires)),
                "ServerTime": _iso(now)})
        return
    if age > MAX_SKEW:
        message = (f"Signature expired: {signed.timestamp} is now earlier than "
                   f"{_basic(now - MAX_SKEW)} ({_basic(now)} - 15 min.)")
    elif age < -MAX_SKEW:
        message = (f"Signature not yet current: {signed.timestamp} is still later than "
                   f"{_basic(now + MAX_SKEW)} ({_basic(now)} + 15 min.)")
    else:
        return
    raise SigV4Error(Kind.SKEWED, message, fields={
        "RequestTime": signed.timestamp, "ServerTime": _iso(now),
        "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000))})


def _expired_message(signed: SignedRequest, now: datetime) -> str:
    return (f"Signature expired: {signed.timestamp} is now earlier than "
            f"{_basic(now - timedelta(seconds=signed.expires or 0))} ({_basic(now)} - "
            f"{signed.expires} sec.)")


def _check_signed_headers(request: HttpRequest, signed: SignedRequest, s3: bool) -> None:
    """The host must be signed; S3 also requires every x-amz-* header sent to be."""
    names = set(signed.signed_headers)
    if not s3:
        if "host" not in names:
            raise SigV4Error(Kind.INCOMPLETE, "'Host' or ':authority' must be a 'SignedHeader' "
                             "in the AWS Authorization.")
        return
    unsigned = [name for name in request.headers
                if (name == "host" or name.startswith("x-amz-")) and name not in names]
    if "host" not in names and "host" not in unsigned:
        unsigned.insert(0, "host")
    if unsigned:
        raise SigV4Error(Kind.UNSIGNED_HEADER, "There were headers present in the request which "
                         "were not signed", fields={"HeadersNotSigned": ", ".join(unsigned)})


def _signature_mismatch(request: HttpRequest, signed: SignedRequest, canonical: str,
                        to_sign: str) -> SigV4Error:
    # S3 returns what it signed, to help a client find its mistake; the session token is
    # blanked as it is a credential.
    token = signed.session_token
    if token:
        canonical = canonical.replace(token, "<redacted>")
    return SigV4Error(
        Kind.BAD_SIGNATURE, "The request signature we calculated does not match the signature "
        "you provided. Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.", fields={
            "AWSAccessKeyId": signed.credential.access_key, "StringToSign": to_sign,
            "SignatureProvided": signed.signature, "CanonicalRequest": canonical})


def _check_body(request: HttpRequest, signed: SignedRequest, s3: bool) -> None:
    """The signature covers x-amz-content-sha256, not the body: hash the body when it is here.
    Streamed bodies are checked as they are read (`chunked.open_payload`)."""
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is None or request.stream is not None or (s3 and not is_sha256(claimed)):
        return
    computed = hashlib.sha256(request.body).hexdigest()
    if computed != claimed:
        raise content_mismatch(claimed, computed)


def content_mismatch(claimed: str, computed: str) -> SigV4Error:
    """The error for a body whose sha256 is not the one the client signed."""
    return SigV4Error(
        Kind.BAD_CONTENT_HASH, "The request signature we calculated does not match the signature "
        "you provided. Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.", fields={
            "ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": computed})


def _basic(when: datetime) -> str:
    return f"{when:%Y%m%dT%H%M%SZ}"


def _iso(when: datetime) -> str:
    return f"{when:%Y-%m-%dT%H:%M:%SZ}"


# -- the AWS error per protocol -------------------------------------------------------------------

# Codes and statuses observed from AWS (see the module's tests for sources). Query services
# (STS, IAM) and JSON services (ECS, ECR, Logs…) behind the same front answer with these; the
# REST-JSON services (EKS) sit behind a front that answers 403 to every authentication failure.
_QUERY: dict[Kind, tuple[str, int]] = {
    Kind.MISSING: ("MissingAuthenticationToken", 403),
    Kind.UNSUPPORTED: ("IncompleteSignature", 400),
    Kind.INCOMPLETE: ("IncompleteSignature", 400),
    Kind.MALFORMED: ("IncompleteSignature", 400),
    Kind.UNKNOWN_KEY: ("InvalidClientTokenId", 403),
    Kind.BAD_TOKEN: ("InvalidClientTokenId", 403),
    Kind.EXPIRED_TOKEN: ("ExpiredToken", 403),
}
_JSON: dict[Kind, str] = {
    Kind.MISSING: "MissingAuthenticationTokenException",
    Kind.UNSUPPORTED: "IncompleteSignatureException",
    Kind.INCOMPLETE: "IncompleteSignatureException",
    Kind.MALFORMED: "IncompleteSignatureException",
    Kind.UNKNOWN_KEY: "UnrecognizedClientException",
    Kind.BAD_TOKEN: "UnrecognizedClientException",
    Kind.EXPIRED_TOKEN: "ExpiredTokenException",
}
_SIGNATURE_S3 = ("The request signature we calculated does not match the signature you provided. "
                 "Check your key and signing method.")
_S3: dict[Kind, tuple[str, int, str]] = {
    Kind.MISSING: ("AccessDenied", 403, "Access Denied"),
    Kind.UNSUPPORTED: ("InvalidRequest", 400, "The authorization mechanism you have provided is "
                       "not supported. Please use AWS4-HMAC-SHA256."),
    Kind.INCOMPLETE: ("AuthorizationHeaderMalformed", 400, _HEADER_MALFORMED.rstrip("; ")),
    Kind.MALFORMED: ("AuthorizationHeaderMalformed", 400, _HEADER_MALFORMED.rstrip("; ")),
    Kind.UNKNOWN_KEY: ("InvalidAccessKeyId", 403,
                       "The AWS Access Key Id you provided does not exist in our records."),
    Kind.BAD_TOKEN: ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    Kind.EXPIRED_TOKEN: ("ExpiredToken", 400, "The provided token has expired."),
    Kind.BAD_SCOPE: ("AuthorizationHeaderMalformed", 400, _HEADER_MALFORMED.rstrip("; ")),
    Kind.SKEWED: ("RequestTimeTooSkewed", 403,
                  "The difference between the request time and the current time is too large."),
    Kind.EXPIRED: ("AccessDenied", 403, "Request has expired"),
    Kind.UNSIGNED_HEADER: ("AccessDenied", 403,
                           "There were headers present in the request which were not signed"),
    Kind.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403, _SIGNATURE_S3),
    Kind.BAD_CONTENT_HASH: ("XAmzContentSHA256Mismatch", 400, "The provided "
                            "'x-amz-content-sha256' header does not match what was computed."),
}
_S3_STATUS = {"AccessDenied": 403, "InvalidAccessKeyId": 403, "RequestTimeTooSkewed": 403,
              "SignatureDoesNotMatch": 403}


def aws_error(err: SigV4Error, protocol: str) -> AwsError:
    """The error AWS answers for this failure in this protocol (botocore's protocol names;
    `rest-xml` is S3's)."""
    kind = err.kind
    if protocol == "rest-xml":
        code, status, message = _S3[kind]
        if err.s3_code is not None:
            code, status = err.s3_code, _S3_STATUS.get(err.s3_code, 400)
        if err.s3_status is not None:
            status = err.s3_status
        if err.s3_message is not None:
            message = err.s3_message
        elif err.s3_code is not None or kind in (Kind.MALFORMED, Kind.INCOMPLETE):
            message = err.message
        return AwsError(message, code=code, status=status, fields=dict(err.fields))
    message = err.message
    if protocol in ("query", "ec2"):
        code, status = _QUERY.get(kind, ("SignatureDoesNotMatch", 403))
    elif protocol in ("json", "rest-json"):
        code = _JSON.get(kind, "InvalidSignatureException")
        status = 403 if protocol == "rest-json" else 400
        if kind is Kind.MISSING and protocol == "rest-json":
            message = "Missing Authentication Token"
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return AwsError(message, code=code, status=status)
