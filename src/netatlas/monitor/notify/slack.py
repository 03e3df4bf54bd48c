"""The Slack provider: a Slack-compatible incoming webhook (``{"text": ...}``; Slack,
Mattermost, Rocket.Chat and others take it)."""

from __future__ import annotations

import json
from typing import Any

from ._http import post
from .message import Message


def text(message: Message) -> str:
    lines = [f"*netatlas monitor {message.monitor_name}*: {message.summary}",
             f"triggers: {', '.join(message.triggers)}"]
    record = message.record
    if record.get("product") or record.get("service"):
        lines.append(" ".join(str(record.get(k)) for k in ("service", "product", "version")
                              if record.get(k)))
    return "\n".join(lines)


def send(args: dict[str, Any], message: Message) -> None:
    post(str(args["webhook_url"]), json.dumps({"text": text(message)}).encode(), {})
