"""Version ordering for ``version:<8.0``: dotted numeric segments with suffixes.

Each version becomes a list of tokens compared left to right; a missing token is
the end marker. Order within one position:
pre-release words (dev, alpha, beta, rc, ...) < end = 0 < other letters (``p1``,
OpenSSL's ``1.1.1k``) < numbers from 1. So 1.22rc1 < 1.22 = 1.22.0 < 1.22p1 < 1.22.1.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Only the leading version-looking part counts: "2.4.41 (Ubuntu)" is 2.4.41.
# ASCII only (digits, white space): what a store's SQL function can repeat exactly
# (store/postgres/schema.py, migration 6); "٣.1" is no version.
_HEAD = re.compile(r"\s*[vV]?(\d[0-9A-Za-z.\-_+~]*)", re.ASCII)
_TOKEN = re.compile(r"\d+|[A-Za-z]+", re.ASCII)
_PRE = {"dev": 0, "snapshot": 0, "pre": 1, "preview": 1, "alpha": 2, "a": 2,
        "beta": 3, "b": 3, "rc": 4, "c": 4}
# "a", "b" and "c" are pre-release only right after a number and before digits
# (1.0a1, 2.0b3); alone ("1.1.1a") they are a release letter.
_AMBIGUOUS = {"a", "b", "c"}

Key = tuple[tuple[int, int, str], ...]
_END = (1, 0, "")  # equal to a number 0: 8.0 == 8.0.0


@lru_cache(maxsize=4096)
def version_key(text: str | None) -> Key | None:
    """The comparable form of a version string, or None when it is not a version."""
    if not text:
        return None
    m = _HEAD.match(text[:200])
    if not m:
        return None
    tokens = _TOKEN.findall(m.group(1))
    out: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.isdigit():
            out.append((1, 2 * int(tok[:30]), ""))  # even: a letter fits between
            continue
        word = tok.lower()
        followed_by_number = i + 1 < len(tokens) and tokens[i + 1].isdigit()
        if word in _PRE and (word not in _AMBIGUOUS or followed_by_number):
            out.append((0, _PRE[word], ""))
        else:
            out.append((1, 1, word))
    return tuple(out)


def compare_versions(a: str | None, b: str | None) -> int | None:
    """-1, 0 or 1; None when either side is not a version."""
    ka, kb = version_key(a), version_key(b)
    if ka is None or kb is None:
        return None
    n = max(len(ka), len(kb))
    pa = ka + (_END,) * (n - len(ka))
    pb = kb + (_END,) * (n - len(kb))
    return (pa > pb) - (pa < pb)


# -- a byte string that sorts as compare_versions does ---------------------------------
# Stores index it, so `version:>1.20` is a range seek instead of a call per row.
_PRE_CLASS, _STOP, _REL_CLASS = b"\x01", b"\x02", b"\x03"


def _uint(n: int) -> bytes:
    """Order-preserving bytes for a non-negative int: its length, then its digits."""
    digits = str(n).encode()
    return bytes([len(digits)]) + digits


@lru_cache(maxsize=4096)
def version_sort_key(text: str | None) -> bytes | None:
    """``compare_versions`` order as plain bytes (memcmp / bytea order): equal versions
    give equal keys, and ``a < b`` exactly when ``key(a) < key(b)``. None: not a version.

    compare_versions pads the shorter version with end markers, and a ``0`` equals the
    end marker; so a run of zeros is decided by the token after it. Each non-zero token
    is therefore written with the zeros before it: its class (pre-release below the
    stop byte, others above), the zero count (more zeros sort lower before a release
    token, higher before a pre-release one), then the token. Trailing zeros are
    dropped and a stop byte ends the key: ``1.22rc1 < 1.22 = 1.22.0 < 1.22p1 < 1.22.1``."""
    key = version_key(text)
    if key is None:
        return None
    out = bytearray()
    zeros = 0
    for cls, num, word in key:
        if (cls, num, word) == _END:
            zeros += 1
            continue
        run = min(zeros, 250)
        if cls == 0:
            out += _PRE_CLASS + bytes([run])
        else:
            out += _REL_CLASS + bytes([255 - run])
        out += _uint(num) + word.encode("ascii", "replace") + b"\x00"
        zeros = 0
    out += _STOP
    return bytes(out)
