"""Who is asking: an API key from ``?key=`` (Shodan style), ``Authorization: Bearer``,
``X-API-Key`` or the UI's cookie; its role; and its rate limit.

With ``--open`` (loopback only), a request without a key is served as admin, but only
when it comes from a loopback address; a key that is sent is still checked.

Failed key checks (a wrong key, or none where one is needed) are limited per client
address (``Services.auth_failures``): past its burst an address gets 429 with
Retry-After for every keyed request, right key or wrong, until its bucket refills; a
request with a right key spends nothing from it.

The key is checked once, first, by the request guard (``_guard.py``), before any body
is read; the route's dependency then finds the principal on ``request.state``.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from netatlas.api._errors import ApiError
from netatlas.store.base import Role
from netatlas.store.keys import role_allows

COOKIE = "netatlas_key"
# routes whose Shodan client posts the key inside the form body
FORM_KEY_ROUTES = frozenset({("POST", "/shodan/scan"), ("POST", "/notifier")})


@dataclass(frozen=True, slots=True)
class Principal:
    who: str  # key id, or "anon:ADDRESS" in open mode
    role: str
    key_id: str | None = None


def _secret(request: Request) -> tuple[str | None, bool]:
    """(secret, came in the query string)."""
    if key := request.query_params.get("key"):
        return key, True
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    if key := request.headers.get("x-api-key"):
        return key.strip(), False
    return request.cookies.get(COOKIE), False


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_bucket(request: Request) -> str:
    """The failure bucket of the client's address: an IPv4 address, or an IPv6 /64 (one
    host may hold all of it); an IPv4-mapped IPv6 address counts as its IPv4 one."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"auth:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"auth:{address.ipv4_mapped}"
        return f"auth:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"auth:{address}"


def _refuse_while_failing(services: Any, bucket: str) -> None:
    """429 while this address has used up its failed key checks: for a right key too,
    so the answer does not tell a guess that hit from one that missed."""
    wait = services.auth_failures.wait(bucket)
    if wait > 0:
        raise ApiError(429, "Too many failed API key attempts from this address; slow down",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})


def _failed(services: Any, bucket: str, message: str) -> ApiError:
    services.auth_failures.take(bucket)
    return ApiError(401, message)


def pre_authenticate(request: Request) -> None:
    """Check the key before the body is read (ApiError when it fails) and keep who it
    is for the route. A form-key route sent without a key elsewhere is left to the
    route, which reads its bounded body and calls ``form_principal``."""
    secret, from_query = _secret(request)
    if not secret and (request.method, request.scope["path"]) in FORM_KEY_ROUTES:
        return
    request.state.principal = principal_for(request, secret, from_query)


def authenticate(request: Request) -> Principal:
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):  # checked (and rate-limited) once, by the guard
        return known
    secret, from_query = _secret(request)
    request.state.principal = principal_for(request, secret, from_query)
    return request.state.principal


def form_principal(request: Request, form_secret: object) -> Principal:
    """Who sends a form: the key checked by the guard, else the one in the form."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    return principal_for(request, form_secret if isinstance(form_secret, str) else None)


def principal_for(request: Request, secret: str | None, from_query: bool = False) -> Principal:
    """Who sends ``secret`` (or no key), rate limit taken: ``authenticate`` for a key
    found elsewhere (the shodan client posts ``key`` in a form body)."""
    services: Any = request.app.state.services
    rate = burst = None
    bucket = client_bucket(request)
    anonymous = not secret and services.open_access and _loopback(request)
    if not anonymous:  # a key to check, or none where one is needed: it may fail
        _refuse_while_failing(services, bucket)
    if secret:
        key = services.store.verify_key(secret)
        if key is None:
            raise _failed(services, bucket, "Invalid API key")
        principal = Principal(key.id, key.role, key.id)
        rate, burst = key.rate, key.burst
        if from_query:
            request.state.key_cookie = secret  # lets the UI's links work after ?key=
    elif anonymous:
        principal = Principal(f"anon:{request.client.host if request.client else ''}", "admin")
    else:
        raise _failed(services, bucket,
                      "Please provide an API key (?key=, Authorization: Bearer, X-API-Key)")
    wait = services.limiter.take(principal.who, rate, burst)
    if wait > 0:
        raise ApiError(429, "Rate limit reached; slow down",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return principal


def _need(role: Role) -> Any:
    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not role_allows(principal.role, role):
            raise ApiError(403, f"this key's role ({principal.role}) may not do this; "
                                f"needs {role}")
        return principal

    return dependency


# handler parameters: `who: ReadAccess` etc.
def require(principal: Principal, role: Role) -> Principal:
    if not role_allows(principal.role, role):
        raise ApiError(403, f"this key's role ({principal.role}) may not do this; needs {role}")
    return principal


ReadAccess = Annotated[Principal, Depends(_need("read"))]
ScanAccess = Annotated[Principal, Depends(_need("scan"))]
AdminAccess = Annotated[Principal, Depends(_need("admin"))]
