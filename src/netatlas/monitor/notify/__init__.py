"""Where alerts go: one module a provider (webhook, e-mail, Slack), each a function that
sends one event's message or raises ``SendError``; ``deliver`` sends the stored
deliveries that are due, retrying with back-off until they succeed or are given up."""

from netatlas.monitor.notify.message import Message, SendError
from netatlas.monitor.notify.providers import PROVIDERS, check_args

__all__ = ["PROVIDERS", "Message", "SendError", "check_args"]
