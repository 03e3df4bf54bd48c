"""One module per protocol netatlas speaks. Each declares itself in ``PROTOCOL`` (an
``engine.registry.Protocol``: its ports, greeting test, probe, TLS and UDP facts); this
list registers them, and is the only list of protocols there is. A module that is a
part of another's (HTTP/2 of HTTP) says so in ``PART_OF`` instead.

The order is the engine's (see ``engine/registry.py``):
- the server-speaks-first protocols, in the order their greeting tests run: ``SSH-``
  and MySQL's binary handshake before anything looser, telnet's option negotiation
  before FTP's and SMTP's reply codes (a ``220 ftp`` line followed by negotiation is
  telnet);
- SNMP and NTP, asked before DNS over UDP;
- the probes tried on a port that hints at nothing, in the order tried. memcached
  before postgresql: postgres waits silently for an 8th byte of "stats\\r\\n", and
  memcached silently for a newline in an SSLRequest; this order costs one silence.
  zookeeper before postgresql: ZooKeeper waits silently for the 8-byte SSLRequest's
  body, while postgres refuses the 8-byte "srvr" probe at once. mqtt, amqp: brokers hang
  up on the earlier probes' bytes (a bad packet type, a wrong protocol header), so they
  cost a connection each, not a silence; so does a Kafka broker (a size over its
  request limit, an unknown API key), and only the DNS probe's length prefix would keep
  it waiting: kafka goes before dns. slapd and DNS wait silently for a BER /
  length-prefix worth of bytes already at the TLS hello: only their port hint (389, 53)
  reaches them;
- the rest: UDP after DNS (BACnet, SIP, ONVIF), the frame-only probes (Modbus, then S7, whose
  probe says no to RDP while RDP's would take a PLC's confirm for RDP), the others
  (Cassandra answers junk with a protocol ERROR frame, which ``in_replies`` spots).
A protocol registered later (``registry.register``) comes after all of these.
"""

from ..engine.registry import Registry
from . import (
    amqp,
    bacnet,
    cassandra,
    dns,
    epmd,
    ftp,
    http,
    imap,
    kafka,
    ldap,
    memcached,
    modbus,
    mongodb,
    mqtt,
    mysql,
    nats,
    ntp,
    onvif,
    pop3,
    portmap,
    postgresql,
    rdp,
    redis,
    rsync,
    rtsp,
    s7,
    sip,
    smb,
    smtp,
    snmp,
    spark,
    ssh,
    telnet,
    tls,
    vnc,
    x11,
    zookeeper,
)

registry = Registry(module.PROTOCOL for module in (
    ssh, mysql, nats, rsync, vnc, pop3, imap, telnet, ftp, smtp,
    snmp, ntp,
    tls, http, redis, memcached, zookeeper, postgresql, mqtt, amqp, kafka, ldap, dns,
    bacnet, sip, onvif, portmap, modbus, s7, epmd, spark, cassandra, x11, mongodb, smb, rdp, rtsp,
))

__all__ = ["registry"]
