"""The grab engine: one endpoint's bounded grab (``core``), protocol detection (``detect``
over TCP, ``udp``), nmap's probes scheduled (``scheduler``), and the sockets, limits,
options and errors every protocol module uses. It names no protocol itself: what it
knows of them comes from the registry (``grab.protocols``)."""
