"""The lab's RTSP server, run by Debian's own Python (it has PyGObject and Debian's
gst-rtsp-server typelib; the venv does not), in the foreground by the lab (lab/media.py):

    /usr/bin/python3 rtspd.py 127.20.0.75:554:open 127.20.0.76:10554:auth

Each argument is one GStreamer RTSP server bound to one loopback address, serving a live
test pattern (raw video, 320x240, 5 fps) at its root; ``auth`` ones require HTTP Basic
credentials (a random password nobody is told)."""

from __future__ import annotations

import secrets
import signal
import sys

import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=5/1 "
            "! rtpvrawpay name=pay0 pt=96 )")
ROLE = "viewer"


def server(address: str, port: str, auth: bool) -> object:
    srv = GstRtspServer.RTSPServer()
    srv.set_address(address)
    srv.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    if auth:
        guard = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        basic = GstRtspServer.RTSPAuth.make_basic("lab", secrets.token_hex(16))
        guard.add_basic(basic, token)
        srv.set_auth(guard)
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
    srv.get_mount_points().add_factory("/", factory)
    if srv.attach(None) == 0:
        raise SystemExit(f"rtspd: cannot listen on {address}:{port}")
    return srv


def main(args: list[str]) -> None:
    Gst.init(None)
    loop = GLib.MainLoop()
    servers = []
    for spec in args:
        address, port, mode = spec.split(":")
        servers.append(server(address, port, mode == "auth"))
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":
    main(sys.argv[1:])
