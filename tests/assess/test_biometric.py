"""Face recognition and face-swap services: none is packaged in Debian or PyPI, so each
is replayed from the HTTP responses its own source makes it send (the file and commit
are named beside each), through the real grabber, identification and checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation
from tests.grab.conftest import serve

HOST = "127.20.250.80"


def response(status: int, body: bytes, ctype: bytes = b"text/html; charset=utf-8",
             server: bytes = b"", extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 %d X\r\n" % status
    if server:
        head += b"Server: " + server + b"\r\n"
    return (head + b"Content-Type: " + ctype + b"\r\n" + extra
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


NOT_FOUND = response(404, b'{"detail":"Not Found"}', b"application/json", b"uvicorn")
# exadel-inc/CompreFace ui/src/index.html (commit 08202508), served by its nginx
COMPREFACE = response(200, b'<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">'
                           b'\n  <title>CompreFace</title>\n  <base href="/">\n</head>\n<body>\n'
                           b"  <app-root></app-root>\n</body>\n</html>\n", server=b"nginx")
# SthPhoenix/InsightFace-REST if_rest/api/main.py + routes/v1/service.py (c15acbc5):
# GET / -> RedirectResponse("/docs") (307), the FastAPI schema at /openapi.json
INSIGHTFACE = {
    "/": response(307, b"", server=b"uvicorn", extra=b"location: /docs\r\n"),
    "/openapi.json": response(
        200, b'{"openapi":"3.1.0","info":{"title":"InsightFace-REST","description":"Face '
             b'recognition REST API","version":"0.9.5.0"},"paths":{"/info":{"get":{}},'
             b'"/extract":{"post":{}}}}', b"application/json", b"uvicorn"),
}
# blakeblackshear/frigate web/index.html (07a94f64); /api/version as its API answers
FRIGATE = {
    "/": response(200, b'<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="UTF-8" />'
                       b"\n    <title>Frigate</title>\n  </head>\n  <body>\n    <div id=\"root\">"
                       b"</div>\n  </body>\n</html>\n", server=b"nginx"),
    "/api/version": response(200, b"0.14.1-f4f3cfa", b"text/plain", b"nginx"),
}
# facefusion/facefusion facefusion/uis/core.py + metadata.py (02715383): a Gradio page
# titled "FaceFusion 3.6.0"
FACEFUSION = response(200, b'<!doctype html><html><head><meta charset="utf-8" /><title>FaceFusion '
                           b'3.6.0</title><script>window.gradio_config = {"version":"5.44.1",'
                           b'"mode":"blocks"};</script></head><body></body></html>',
                      server=b"uvicorn")
# AUTOMATIC1111's page title, and the ReActor extension's GET /reactor/models
REACTOR = {
    "/": response(200, b"<!DOCTYPE html><html><head><title>Stable Diffusion</title></head>"
                       b"<body><gradio-app></gradio-app></body></html>", server=b"uvicorn"),
    "/reactor/models": response(200, b'{"models":["inswapper_128.onnx"]}', b"application/json",
                                b"uvicorn"),
}


def replay(routes: dict[str, bytes]) -> Any:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        start = await r.readexactly(4)
        if start not in (b"GET ", b"HEAD", b"OPTI"):
            return  # a TLS hello or another probe: hang up at once, as uvicorn does
        head = start + await r.readuntil(b"\r\n\r\n")
        parts = head.split(b" ")
        path = parts[1].decode() if len(parts) > 2 else "/"
        w.write(routes.get(path, NOT_FOUND))
        await w.drain()

    return handler


async def observe(routes: dict[str, bytes]) -> Observation:
    opts = GrabOptions(banner_wait=0.3, read_timeout=1.0, connect_timeout=1.0,
                       total_timeout=8.0, nmap_probes=None)
    async with serve(replay(routes), HOST) as port:
        ep = Endpoint(HOST, port)
        res = await grab_endpoint(ep, opts)
    assert res.status == "success", res.error
    ident = Identifier(nmap=None, fingerprints=None).identify(res, ep)
    obs = Observation.build(ep, "bio-test", res, ident)
    obs.risks = assess(obs)
    return obs


@pytest.mark.parametrize(("routes", "product", "version", "tag", "evidence"), [
    ({"/": COMPREFACE}, "CompreFace", None, "biometric", "GET / status 200"),
    (INSIGHTFACE, "InsightFace-REST", "0.9.5.0", "biometric", "http.api.openapi"),
    (FRIGATE, "Frigate", "0.14.1", "biometric", "http.api.frigate_version"),
    ({"/": FACEFUSION}, "FaceFusion", "3.6.0", "face-swap", "GET / status 200"),
    (REACTOR, "Stable Diffusion WebUI", None, "face-swap", "http.api.reactor_models"),
])
async def test_identified_tagged_and_rated(routes: dict[str, bytes], product: str,
                                           version: str | None, tag: str,
                                           evidence: str) -> None:
    obs = await observe(routes)
    assert (obs.product, obs.version) == (product, version)
    assert tag in obs.tags
    found = {f.id: f for f in obs.risks}
    assert found["biometric-exposure"].severity == "high"
    assert evidence in found["biometric-exposure"].evidence


async def test_a_plain_gradio_app_is_not_biometric() -> None:
    plain = response(200, b"<html><head><title>Gradio</title><script>window.gradio_config = "
                          b'{"version":"5.44.1"};</script></head></html>', server=b"uvicorn")
    obs = await observe({"/": plain})
    assert "biometric" not in obs.tags and "face-swap" not in obs.tags
    assert "biometric-exposure" not in {f.id for f in obs.risks}
