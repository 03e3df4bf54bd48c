"""The e-mail provider: one message per event over SMTP, with STARTTLS (on by default;
the server's certificate checked against the system's roots or ``ca_file``) and AUTH
when a ``username`` is given. The record goes along as JSON."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from .message import Message, SendError

TIMEOUT = 15.0


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off")
    return bool(value)


def compose(args: dict[str, Any], message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[netatlas] {message.monitor_name}: {message.summary}"
    mail["From"] = str(args.get("from") or "netatlas@localhost")
    mail["To"] = str(args["to"])
    mail["X-Netatlas-Event"] = message.kind
    mail.set_content(f"{message.summary}\n\ntriggers: {', '.join(message.triggers)}\n"
                     f"monitor: {message.monitor_name} ({message.monitor_id})\n\n"
                     + json.dumps(message.record, indent=2, sort_keys=True, default=str))
    return mail


def send(args: dict[str, Any], message: Message) -> None:
    host = str(args.get("host") or "127.0.0.1")
    port = int(args.get("port") or 25)
    mail = compose(args, message)
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if _flag(args.get("starttls"), True):
                context = ssl.create_default_context(cafile=args.get("ca_file") or None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if args.get("username"):
                smtp.login(str(args["username"]), str(args.get("password") or ""))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from exc
