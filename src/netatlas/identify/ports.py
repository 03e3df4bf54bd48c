"""Well-known port names (the names grabbers use, nmap-style) for the last-resort guess.

Only used when no rule matched and the grabber did not know either; the result is
then marked ``source="port"`` so nobody mistakes it for an identification.
"""

from __future__ import annotations

TCP: dict[int, str] = {
    21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http",
    110: "pop3", 111: "rpcbind", 135: "msrpc", 139: "netbios-ssn", 143: "imap",
    389: "ldap", 443: "https", 445: "microsoft-ds", 465: "smtps", 587: "submission",
    636: "ldapssl", 993: "imaps", 995: "pop3s", 1080: "socks", 1433: "ms-sql-s",
    1521: "oracle", 1883: "mqtt", 2049: "nfs", 2375: "docker", 3306: "mysql",
    3389: "ms-wbt-server", 5432: "postgresql", 5672: "amqp", 5900: "vnc",
    5984: "couchdb", 6379: "redis", 8000: "http-alt", 8080: "http-proxy",
    8443: "https-alt", 8883: "secure-mqtt", 9042: "cassandra", 9092: "kafka",
    9200: "elasticsearch", 9418: "git", 11211: "memcached", 27017: "mongodb",
}
UDP: dict[int, str] = {
    53: "domain", 67: "dhcps", 69: "tftp", 123: "ntp", 137: "netbios-ns", 161: "snmp",
    500: "isakmp", 1900: "upnp", 5353: "mdns", 11211: "memcached",
}


def port_service(port: int, transport: str = "tcp") -> str | None:
    table = UDP if transport == "udp" else TCP
    return table.get(port)
