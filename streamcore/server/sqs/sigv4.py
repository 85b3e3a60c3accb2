"""AWS Signature Version 4: reading the credential scope, and verifying a
request's signature against a table of access keys.

The canonical request follows the SigV4 specification (and botocore's
``SigV4Auth``, which is what boto3 and the aws CLI sign with): method, the
URI-encoded normalised path, the query parameters re-encoded and sorted, the
signed headers (lower-case, values trimmed, repeated ones joined by ","), the
list of signed headers and the hex SHA-256 of the body.  Signatures are
compared in constant time.  Presigned URLs (``X-Amz-Signature`` in the query)
are not accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, unquote_plus

from .http import Request

ALGORITHM = "AWS4-HMAC-SHA256"
CLOCK_SKEW_S = 15 * 60


class AuthError(Exception):
    """A request that fails authentication: ``code`` and ``status`` are AWS's."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(slots=True)
class Authorization:
    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str | None) -> Authorization | None:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header; None when
    absent; AuthError(IncompleteSignature) when malformed."""
    if value is None:
        return None
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError("IncompleteSignature", 400,
                        f"Unsupported authorization algorithm {algorithm[:40]!r}.")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        k, sep, v = item.strip().partition("=")
        if sep:
            parts[k] = v
    cred = parts.get("Credential", "").split("/")
    headers = parts.get("SignedHeaders")
    sig = parts.get("Signature")
    if len(cred) != 5 or cred[4] != "aws4_request" or not headers or not sig:
        raise AuthError("IncompleteSignature", 400,
                        "Authorization header requires Credential, SignedHeaders and Signature.")
    return Authorization(cred[0], cred[1], cred[2], cred[3], headers.split(";"), sig)


def credential_scope(value: str | None) -> tuple[str | None, str | None]:
    """(access key id, region) of an Authorization header, without checking
    anything else (None, None when there is none to read)."""
    if not value:
        return None, None
    _, sep, rest = value.partition("Credential=")
    if not sep:
        return None, None
    parts = rest.split(",", 1)[0].strip().split("/")
    if len(parts) != 5:
        return None, None
    return parts[0], parts[2]


def _path(url: bytes) -> str:
    path = url.split(b"?", 1)[0].decode("latin-1") or "/"
    segments = [s for s in path.split("/") if s and s != "."]
    out: list[str] = []
    for s in segments:
        if s == "..":
            if out:
                out.pop()
        else:
            out.append(s)
    norm = "/" + "/".join(out)
    if path.endswith("/") and out:
        norm += "/"
    # botocore quotes the (already encoded) path again, keeping "/" and "~"
    return quote(norm, safe="/~")


def _query(url: bytes) -> str:
    _, sep, q = url.partition(b"?")
    if not sep or not q:
        return ""
    pairs = []
    for item in q.decode("latin-1").split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((quote(unquote_plus(k), safe="-_.~"), quote(unquote_plus(v), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(req: Request, signed_headers: list[str]) -> str:
    values: dict[str, list[str]] = {}
    for name, value in req.headers:
        values.setdefault(name, []).append(" ".join(value.split()))
    lines = []
    for name in sorted(signed_headers):
        if name not in values:
            raise AuthError("SignatureDoesNotMatch", 403,
                            f"The header {name} is signed but missing from the request.")
        lines.append(f"{name}:{','.join(values[name])}")
    payload = req.header("x-amz-content-sha256") or hashlib.sha256(req.body).hexdigest()
    return "\n".join((req.method.upper(), _path(req.url), _query(req.url),
                      "\n".join(lines) + "\n", ";".join(sorted(signed_headers)), payload))


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(f"AWS4{secret}".encode(), date)
    return _hmac(_hmac(_hmac(k, region), service), "aws4_request")


def _request_time(req: Request) -> str:
    stamp = req.header("x-amz-date")
    if stamp is not None:
        return stamp
    date = req.header("date")
    if date is None:
        raise AuthError("IncompleteSignature", 400, "The request has no X-Amz-Date header.")
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(date).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError):
        raise AuthError("IncompleteSignature", 400, "The Date header is malformed.") from None


class Verifier:
    """Checks SigV4 signatures with the secrets of ``keys`` (access key id -> secret)."""

    def __init__(self, keys: dict[str, str], *, service: str = "sqs") -> None:
        self.keys = keys
        self.service = service
        self._cache: dict[tuple[str, str, str], bytes] = {}

    def verify(self, req: Request, auth: Authorization | None, now: float | None = None) -> None:
        if auth is None:
            raise AuthError("MissingAuthenticationToken", 403,
                            "Request is missing Authentication Token")
        secret = self.keys.get(auth.access_key)
        if secret is None:
            raise AuthError("InvalidClientTokenId", 403,
                            "The security token included in the request is invalid.")
        if auth.service != self.service:
            raise AuthError("SignatureDoesNotMatch", 403,
                            f"Credential should be scoped to correct service: '{self.service}'.")
        stamp = _request_time(req)
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise AuthError("IncompleteSignature", 400,
                            "X-Amz-Date must be in ISO 8601 basic format.") from None
        now = time.time() if now is None else now
        if abs(when.timestamp() - now) > CLOCK_SKEW_S:
            raise AuthError("RequestExpired", 400,
                            f"Signature expired: {stamp} is more than 15 minutes from now.")
        if stamp[:8] != auth.date:
            raise AuthError("SignatureDoesNotMatch", 403,
                            "The credential date does not match the request date.")
        if "host" not in auth.signed_headers:
            raise AuthError("SignatureDoesNotMatch", 403, "The Host header must be signed.")
        creq = canonical_request(req, auth.signed_headers)
        scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
        to_sign = "\n".join((ALGORITHM, stamp, scope,
                             hashlib.sha256(creq.encode()).hexdigest()))
        ck = (auth.access_key, auth.date, auth.region)
        key = self._cache.get(ck)
        if key is None:
            key = signing_key(secret, auth.date, auth.region, auth.service)
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[ck] = key
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth.signature.lower()):
            raise AuthError("SignatureDoesNotMatch", 403,
                            "The request signature we calculated does not match the signature "
                            "you provided. Check your AWS Secret Access Key and signing method.")


def load_credentials(path: str) -> dict[str, str]:
    """Access keys from a file: one ``ACCESS_KEY_ID SECRET`` (or ``id:secret``,
    or ``id=secret``) per line; blank lines and ``#`` comments ignored."""
    keys: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            for sep in (None, ":", "="):
                parts = line.split(sep, 1)
                if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                    keys[parts[0].strip()] = parts[1].strip()
                    break
            else:
                raise ValueError(f"{path}:{n}: expected 'ACCESS_KEY_ID SECRET'")
    if not keys:
        raise ValueError(f"{path}: no credentials")
    return keys
