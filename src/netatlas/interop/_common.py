"""What every importer shares: hostile-input caps, a skipped item with its line number
and reason, timestamps, addresses, and the origin an imported observation keeps.

Readers are generators of ``Observation | Skip``: one bad line or element becomes a
``Skip`` (counted and reported) and the rest of the file goes on.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from netatlas.model import Observation, Transport

MAX_LINE = 16 * 1024 * 1024  # one JSON line (a Shodan banner with a big page)
MAX_DATA = 256 * 1024  # banner bytes kept per observation
MAX_TEXT = 4096  # one product / version / title / script output string
MAX_LIST = 256  # hostnames, cpes, tags, technologies per record
MAX_SCRIPT_OUTPUT = 16 * 1024


class InputError(ValueError):
    """The whole input cannot be read (not a known format, a truncated archive)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """An input line or element that could not be imported, and why."""

    line: int
    reason: str


Item = Observation | Skip


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the records being read come from: kept on each observation."""

    source: str  # "nmap", "masscan", ...
    file: str  # the file's name as given, "-" for stdin
    scan_id: str  # what imported records carry as scan_id


class Bad(ValueError):
    """Raised inside a reader for one record; becomes a ``Skip`` with its line."""


def text(value: Any, cap: int = MAX_TEXT) -> str | None:
    """A scalar from hostile input as a bounded string (None when absent or empty)."""
    if value is None or isinstance(value, dict | list):
        return None
    out = str(value).replace("\x00", "")[:cap].strip()
    return out or None


def mapping(value: Any) -> dict[str, Any]:
    """A JSON object from hostile input, or {} for anything else."""
    return value if isinstance(value, dict) else {}


def string(value: Any) -> str:
    """A JSON string from hostile input as it is (unbounded), or "" for anything else."""
    return value if isinstance(value, str) else ""


def text_list(value: Any, cap: int = MAX_LIST) -> list[str]:
    if not isinstance(value, list):
        value = [value] if isinstance(value, str) else []
    out: list[str] = []
    for v in value[:cap]:
        t = text(v)
        if t and t not in out:
            out.append(t)
    return out


def address(value: Any) -> str:
    """A valid IPv4/IPv6 address in its canonical text form, or ``Bad``."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32:
        return str(ipaddress.IPv4Address(value))  # Shodan's integer ``ip``
    if not isinstance(value, str) or not value or len(value) > 64:
        raise Bad(f"no valid IP address ({str(value)[:40]!r})")
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        raise Bad(f"not an IP address: {value[:40]!r}") from None


def port_number(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise Bad(f"port is not a number: {str(value)[:20]!r}") from None
    if not 0 <= port <= 65535 or isinstance(value, bool):
        raise Bad(f"port out of range: {port}")
    return port


def transport(value: Any) -> Transport:
    t = str(value or "tcp").lower()
    if t not in ("tcp", "udp"):
        raise Bad(f"transport is neither tcp nor udp: {t[:10]!r}")
    return "udp" if t == "udp" else "tcp"


_FRACTION = re.compile(r"\.(\d{6})\d+")


def timestamp(value: Any) -> datetime:
    """Unix seconds (number or digits) or ISO 8601 (Z, offsets, nanoseconds) -> UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _unix(float(value))
    if isinstance(value, str) and value.strip():
        v = value.strip()
        if re.fullmatch(r"\d{1,12}(\.\d+)?", v):
            return _unix(float(v))
        v = _FRACTION.sub(r".\1", v[:64]).replace("Z", "+00:00").replace(" ", "T", 1)
        try:
            ts = datetime.fromisoformat(v)
        except ValueError:
            raise Bad(f"unreadable timestamp {value[:40]!r}") from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    raise Bad("no timestamp")


def _unix(seconds: float) -> datetime:
    if not 0 < seconds < 32503680000:  # before year 3000
        raise Bad(f"timestamp out of range: {seconds}")
    return datetime.fromtimestamp(seconds, UTC)


def data_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    return value.encode("utf-8", errors="surrogateescape")[:MAX_DATA]


def read_lines(stream: IO[bytes], first_line: int = 1
               ) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line without its end) — None for a line over ``MAX_LINE``, whose
    bytes are skipped without being held."""
    n = first_line - 1
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # drain the rest of the long line in bounded pieces
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield n, None
            continue
        yield n, line.rstrip(b"\r\n")


def stamp(obs: Observation, origin: Origin, fmt: str, line: int) -> Observation:
    """Mark an observation with where it came from."""
    obs.source = origin.source
    obs.scan_id = origin.scan_id
    obs.sections["import"] = {"format": fmt, "file": origin.file, "line": line}
    return obs


def json_objects(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]] | Skip]:
    """(line number, object) for each JSON-object line; blank lines pass, anything
    else is a ``Skip`` with the reason."""
    for n, raw in read_lines(stream):
        if raw is None:
            yield Skip(n, f"line longer than {MAX_LINE} bytes")
            continue
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Skip(n, f"not JSON: {str(exc)[:120]}")
            continue
        if not isinstance(obj, dict):
            yield Skip(n, "not a JSON object")
            continue
        yield n, obj


def each_object(stream: IO[bytes], origin: Origin, fmt: str,
                convert: Callable[[dict[str, Any]], Observation | None]) -> Iterator[Item]:
    """Run ``convert`` over every JSON-object line; ``Bad`` becomes a ``Skip``;
    None means "nothing to import here" (a failed grab), not an error."""
    for got in json_objects(stream):
        if isinstance(got, Skip):
            yield got
            continue
        n, obj = got
        try:
            obs = convert(obj)
        except Bad as exc:
            yield Skip(n, str(exc))
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            yield Skip(n, f"unexpected shape: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        if obs is not None:
            yield stamp(obs, origin, fmt, n)
