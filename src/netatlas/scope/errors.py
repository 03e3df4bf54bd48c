"""Errors raised by the scope package."""

from __future__ import annotations


class ScopeError(ValueError):
    """A target, port or scope specification is malformed or unusable."""


class OutOfScope(ScopeError):
    """An address (or a whole target) lies outside what the scope permits."""
