"""Small stored values compressed against a zstd dictionary trained on the store's own.

A banner or a history row's stored record is a few hundred bytes. Alone it compresses
poorly (zlib takes bench History's banners from 217 to 186 bytes), but values of one
kind share most of their bytes with one another: header names, section keys, the same
server strings and cipher names. Compressed against a dictionary trained on a sample of
them, each costs a fraction (records 432 -> 69 B, banners 217 -> 42 B, about 1 us each
way). zstd's dictionary training is made for exactly this (many small similar values).

A store trains one dictionary per kind once it has stored ``TRAIN_SAMPLES`` values of
that kind without one, keeps it for ever (a packed value names its dictionary by id in
its zstd frame), and packs what it stores from then on with it; values stored before
stay as they were. Every packed value starts with a kind byte (rows.py: 0 raw, 1 zlib),
so readers take each as it comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import zstandard

ZSTD = b"\x02"  # the kind byte after rows.py's raw (0) and zlib (1)
KINDS = ("banner", "record", "facets")  # facets: SQLite's latest_facets pairs
TRAIN_SAMPLES = 1_000  # enough for a dictionary that holds up (measured: 100 -> 77 B,
# 1,000 -> 70 B, 4,000 -> 68 B per record); training them takes ~20 ms, and training
# time grows with the sample (a whole 20,000-row batch: 190 ms), so no more are kept
TRAIN_MAX = 4 * TRAIN_SAMPLES
# Values of a kind let by after a sample zstd refused to train on, before sampling
# again: a retry every batch would cost each one the training time
TRAIN_BACKOFF = 100_000
DICT_BYTES = {"banner": 65_536, "record": 16_384, "facets": 16_384}
LEVEL = 3
# zstd leaves ids below 32768 to a registry it never set up; ours start above it
FIRST_ID = 32_768
MAX_UNPACKED = 64 << 20  # a frame that claims more is corrupt: never allocate it


class DictionaryMissing(LookupError):
    pass


class Dictionaries:
    """One store's dictionaries. The writer thread trains and packs (``collect``,
    ``train``, ``load``, ``pack``); any thread unpacks (a decompressor per dictionary
    per thread: zstandard's objects are not to be shared between threads). ``fetch``
    reads a dictionary the store holds by id (for readers that opened before it was
    trained)."""

    def __init__(self, fetch: Callable[[int], bytes | None]) -> None:
        self._fetch = fetch
        self._data: dict[int, zstandard.ZstdCompressionDict] = {}
        self._packers: dict[str, zstandard.ZstdCompressor] = {}
        self._samples: dict[str, list[bytes | bytearray | memoryview]] = {
            kind: [] for kind in KINDS}
        self._skip = dict.fromkeys(KINDS, 0)  # values to let by before sampling again
        self._lock = threading.Lock()
        self._local = threading.local()

    def load(self, dict_id: int, kind: str, data: bytes) -> None:
        """A dictionary the store holds; the newest of a kind packs from now on."""
        zdict = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
        with self._lock:
            self._data[dict_id] = zdict
        self._packers[kind] = zstandard.ZstdCompressor(
            dict_data=zdict, level=LEVEL, write_checksum=False, write_content_size=True,
            write_dict_id=True)
        self._samples[kind] = []

    def trained(self, kind: str) -> bool:
        return kind in self._packers

    def collect(self, kind: str, values: list[bytes]) -> bool:
        """Sample values of a kind that has no dictionary yet: True once there are
        enough to ``train`` one."""
        if kind in self._packers:
            return False
        if self._skip[kind] > 0:
            self._skip[kind] -= len(values)
            return False
        samples = self._samples[kind]
        samples.extend(v for v in values[:TRAIN_MAX - len(samples)] if v)
        return len(samples) >= TRAIN_SAMPLES

    def train(self, kind: str, dict_id: int) -> bytes | None:
        """A dictionary for the kind from the values collected (and forget them), with
        the id its frames will name; None when they train nothing (too alike or too
        few: sampling starts again)."""
        samples, self._samples[kind] = self._samples[kind], []
        try:
            zdict = zstandard.train_dictionary(DICT_BYTES[kind], samples, dict_id=dict_id,
                                               level=LEVEL)
        except zstandard.ZstdError:
            self._skip[kind] = TRAIN_BACKOFF
            return None
        return zdict.as_bytes()

    def pack(self, kind: str, raw: bytes) -> bytes | None:
        """``raw`` compressed with the kind's dictionary (kind byte first), or None
        when the kind has none yet or it would not be smaller."""
        packer = self._packers.get(kind)
        if packer is None:
            return None
        packed = ZSTD + packer.compress(raw)
        return packed if len(packed) < len(raw) + 1 else None

    def unpack(self, stored: bytes) -> bytes:
        """A value ``pack`` made (its kind byte first) back to its bytes."""
        frame = stored[1:]
        params = zstandard.get_frame_parameters(frame)
        if params.content_size > MAX_UNPACKED:
            raise ValueError(f"packed value claims {params.content_size} bytes")
        return self._reader(params.dict_id).decompress(frame)

    def _reader(self, dict_id: int) -> zstandard.ZstdDecompressor:
        readers: dict[int, zstandard.ZstdDecompressor] | None = getattr(
            self._local, "readers", None)
        if readers is None:
            readers = self._local.readers = {}
        reader = readers.get(dict_id)
        if reader is None and dict_id == 0:  # we write none, but it needs no dictionary
            reader = readers[0] = zstandard.ZstdDecompressor()
        if reader is None:
            with self._lock:
                zdict = self._data.get(dict_id)
            if zdict is None:
                data = self._fetch(dict_id)
                if data is None:
                    raise DictionaryMissing(f"no compression dictionary {dict_id} in the store")
                zdict = zstandard.ZstdCompressionDict(
                    data, dict_type=zstandard.DICT_TYPE_FULLDICT)
                with self._lock:
                    self._data.setdefault(dict_id, zdict)
            reader = readers[dict_id] = zstandard.ZstdDecompressor(dict_data=zdict)
        return reader
