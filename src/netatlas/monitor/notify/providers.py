"""The notification providers, by Shodan's names, with the arguments each takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import slack, smtp, webhook
from .message import Message, SendError


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    send: Callable[[dict[str, Any], Message], None]


def _providers() -> dict[str, Provider]:
    return {p.name: p for p in (
        Provider("webhook", "POST the record as JSON (Shodan banner), signed with HMAC-SHA256",
                 ("url",), ("secret",), webhook.send),
        Provider("email", "E-mail over SMTP (STARTTLS, AUTH)", ("to",),
                 ("host", "port", "from", "username", "password", "starttls", "ca_file"),
                 smtp.send),
        Provider("slack", "A Slack-compatible incoming webhook", ("webhook_url",), (),
                 slack.send),
    )}


PROVIDERS = _providers()


def check_args(provider: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments a provider takes, checked; raises ValueError saying what is wrong."""
    p = PROVIDERS.get(provider)
    if p is None:
        raise ValueError(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
    missing = [a for a in p.required if not args.get(a)]
    if missing:
        raise ValueError(f"{provider} needs {', '.join(missing)}")
    unknown = sorted(set(args) - set(p.required) - set(p.optional))
    if unknown:
        raise ValueError(f"{provider} does not take {', '.join(unknown)}")
    return dict(args)


__all__ = ["PROVIDERS", "Message", "Provider", "SendError", "check_args"]
