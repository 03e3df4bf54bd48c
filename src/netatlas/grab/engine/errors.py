"""Exceptions grabbers raise; ``core`` maps them to the closed set of status words."""

from __future__ import annotations


class GrabError(Exception):
    status = "unknown-error"


class ConnectTimeout(GrabError):
    status = "connection-timeout"


class ProtocolError(GrabError):
    """The peer said something that does not fit the protocol we speak to it."""

    status = "protocol-error"


class ApplicationError(GrabError):
    """The protocol worked but the application refused or failed the exchange."""

    status = "application-error"
