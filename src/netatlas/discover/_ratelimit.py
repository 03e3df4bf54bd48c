"""Moved to ``netatlas.ratelimit`` (grab uses it too, and grab must not import
discover); this name stays for modules written against it."""

from netatlas.ratelimit import RateBucket, TokenBucket

__all__ = ["RateBucket", "TokenBucket"]
