"""The stored record of a history row, compressed: a kind byte, then the bytes.

Stored records are small (a few hundred bytes of JSON), far below the size at which
PostgreSQL compresses a value itself (a row over ~2 KB: ``toast_tuple_target`` only
lowers how far it shrinks such a row, not when it starts), and alone they compress
poorly: most of their bytes are the key names every record repeats. A preset
dictionary of those names (deflate's ``zdict``) halves them. The dictionary is part of
the stored format: kind 1 is this one, for ever; a better one gets a new kind byte.
Kind 2 is a zstd frame against a dictionary trained on the store's own records
(store/dictpack.py: a fraction of kind 1's size), once the store has one.
"""

from __future__ import annotations

import zlib

from netatlas.store.dictpack import ZSTD, Dictionaries

_RAW, _DEFLATE_V1 = 0, 1
# Fragments of the record format (model.Observation.to_record, the grabbers' sections,
# rows.slim's {"$ref": ...}) — names, not data: the most common last (deflate reaches
# the dictionary's end with the shortest distances).
_DICT_V1 = (
    b'"verify_error":null,"chain_length":"error":"devicetype":"info":"os":"smb":{"dialect":'
    b'"signing_required":"snmp":{"sys_descr":"ssh":{"type":"ssh-ed25519","fingerprint":'
    b'"hassh":"key":"banner":"SSH-2.0-OpenSSH_"jarm":"headers":{"content-type":"text/html",'
    b'"favicon":{"hash":"components":"ssl":{"version":"TLSv1.3","cipher":{"name":'
    b'"TLS_AES_256_GCM_SHA384","bits":256,"version":"TLSv1.2","alpn":"h2","http/1.1",'
    b'"versions":["-TLSv1","-TLSv1.1","TLSv1.2","TLSv1.3"],"cert":{"$ref":""},"verified":true,'
    b'"verified":false,"http":{"status":200,"title":"","server":"nginx","Apache/2.4",'
    b'"html_hash":-"host":"location":{"$ref":""},"asn":"AS","org":"","isp":"",{"cpe":'
    b'["cpe:/a:"],"cpe23":{"$ref":""},"hostnames":[""],"tags":["cloud",""],"risks":'
    b'{"$ref":""},"vulns":{"$ref":"'
)


def pack_doc(text: str, dicts: Dictionaries | None = None) -> bytes:
    raw = text.encode()
    if dicts is not None and (packed := dicts.pack("record", raw)) is not None:
        return packed
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zdict=_DICT_V1)
    packed = c.compress(raw) + c.flush()
    if len(packed) < len(raw):
        return bytes((_DEFLATE_V1,)) + packed
    return bytes((_RAW,)) + raw


def unpack_doc(stored: bytes, dicts: Dictionaries | None = None) -> str:
    stored = bytes(stored)
    if stored[:1] == ZSTD:
        if dicts is None:
            raise ValueError("a dictionary-packed record read without the store's dictionaries")
        return dicts.unpack(stored).decode()
    if stored[0] == _DEFLATE_V1:
        d = zlib.decompressobj(-15, zdict=_DICT_V1)
        return (d.decompress(stored[1:]) + d.flush()).decode()
    if stored[0] == _RAW:
        return stored[1:].decode()
    raise ValueError(f"unknown stored record kind {stored[0]}")
