"""The webhook provider: POST the record as JSON, in the Shodan banner shape (what
Shodan Monitor sends), with Shodan's alert headers and an HMAC-SHA256 signature of the
exact body under the notifier's ``secret``::

    X-Netatlas-Signature: sha256=<hex of HMAC-SHA256(secret, body)>

A receiver recomputes it over the bytes it got (``signature`` here) and compares in
constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ._http import post
from .message import Message

SIGNATURE_HEADER = "X-Netatlas-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body(message: Message) -> bytes:
    return json.dumps(message.record, sort_keys=True, default=str).encode()


def send(args: dict[str, Any], message: Message) -> None:
    data = body(message)
    headers = {
        "SHODAN-ALERT-ID": message.monitor_id,
        "SHODAN-ALERT-NAME": message.monitor_name.encode("ascii", "replace").decode(),
        "SHODAN-ALERT-TRIGGER": ",".join(message.triggers),
        "X-Netatlas-Event": message.kind,
        "X-Netatlas-Event-Id": str(message.event_id),
    }
    if args.get("secret"):
        headers[SIGNATURE_HEADER] = signature(str(args["secret"]), data)
    post(str(args["url"]), data, headers)
