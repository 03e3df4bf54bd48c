"""The field registry: every ``field:`` the language knows — its name, type, help and
where its value lives in a record. Declared once, for every backend.

``source`` says where the value is, in backend-neutral terms (a store column, a JSON
path in the record, the elements of a JSON list, ...); each store backend compiles a
source into its own SQL (``store/sqlite/fields.py``, ``store/postgres/fields.py``).
Paths are constants here, never user text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .ast import Op

FieldType = Literal["str", "int", "version", "ip", "net", "date", "bool", "list"]
ElementType = Literal["str", "severity"]
Path = tuple[str, ...]

# The observation columns every backend keeps (hot fields, indexed).
ColumnName = Literal["ip", "port", "transport", "service", "product", "version", "title",
                     "status", "scan_id", "ts"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the observations table."""

    name: ColumnName


@dataclass(frozen=True, slots=True)
class Json:
    """A scalar at ``path`` in the record; ``asn`` values compare as ``AS<number>``."""

    path: Path
    asn: bool = False


@dataclass(frozen=True, slots=True)
class Each:
    """The elements of the JSON lists at ``paths`` (all of them, concatenated):
    ``member`` reads one key of each element (risks -> id); ``keys_or_values`` takes an
    object's keys, or a list's values (vulns is {"CVE-…": {...}}, tolerated as a list)."""

    paths: tuple[Path, ...]
    member: str | None = None
    keys_or_values: bool = False


@dataclass(frozen=True, slots=True)
class IsObject:
    """True when the record has an object at ``path`` (ssl: the service speaks TLS)."""

    path: Path


@dataclass(frozen=True, slots=True)
class NonEmpty:
    """True when the object or list at ``path`` has at least one entry."""

    path: Path


@dataclass(frozen=True, slots=True)
class MaxNumber:
    """The largest number ``member`` of the object's values at ``path`` (highest CVSS);
    compared numerically."""

    path: Path
    member: str


Source = Column | Json | Each | IsObject | NonEmpty | MaxNumber


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    source: Source
    description: str
    facetable: bool = False
    aliases: tuple[str, ...] = ()
    element_type: ElementType = "str"  # list fields: how elements compare
    implied_op: Op | None = None  # before:/after: carry their comparison
    facet_source: Source | None = None  # what a facet counts when not ``source``
    # facets group case-insensitively, as search matches (service, product)
    facet_nocase: bool = False
    normalize: Callable[[str], str] | None = None  # applied to str values
    example: str = ""
    # the least and greatest value the field can hold: a number outside is refused
    # (port:65536 matches nothing, and cvss:inf or 1e308 is no score at all)
    bounds: tuple[int, int] | None = None


def _asn(value: str) -> str:
    # "15169", "as15169" and "AS15169" all name one AS.
    return "AS" + value.strip().upper().removeprefix("AS")


def _p(dotted: str) -> Path:
    return tuple(dotted.split("."))


def _json(dotted: str) -> Json:
    return Json(_p(dotted))


def _each(*dotted: str, member: str | None = None) -> Each:
    return Each(tuple(_p(d) for d in dotted), member=member)


_ALL: tuple[Field, ...] = (
    # -- where -----------------------------------------------------------------------
    Field("ip", "ip", Column("ip"), "IP address, exact (a CIDR or wildcards also work)",
          facetable=True, example="ip:127.20.0.5"),
    Field("net", "net", Column("ip"), "IPv4/IPv6 network in CIDR notation",
          example="net:127.20.0.0/24"),
    Field("port", "int", Column("port"), "port number; comparisons, lists and ranges",
          facetable=True, example="port:>1024 port:80,443 port:8000-8100",
          bounds=(0, 65535)),
    Field("transport", "str", Column("transport"), "tcp or udp", facetable=True),
    Field("hostname", "list", _each("hostnames"), "a host name of the address",
          facetable=True, aliases=("hostnames",), example="hostname:*.lab.internal"),
    Field("country", "str", _json("location.country_code"), "two-letter country code",
          facetable=True, aliases=("country_code",)),
    Field("city", "str", _json("location.city"), "city name", facetable=True),
    Field("org", "str", _json("org"), "organisation owning the address", facetable=True),
    Field("isp", "str", _json("isp"), "internet service provider", facetable=True),
    Field("asn", "str", Json(("asn",), asn=True), "autonomous system, AS15169 or 15169",
          facetable=True, normalize=_asn),
    # -- what ------------------------------------------------------------------------
    # facets group case-insensitively, as search matches, and so walk the store's
    # NOCASE indexes instead of sorting every row
    Field("service", "str", Column("service"), "service name (http, ssh, redis, ...)",
          facetable=True, facet_nocase=True),
    Field("product", "str", Column("product"), "product name", facetable=True,
          facet_nocase=True, example='product:"Apache httpd"'),
    Field("version", "version", Column("version"),
          "product version; <, >, [a TO b] compare as versions (9.2p1 > 9.2)",
          facetable=True, example="version:<8.0"),
    Field("cpe", "list", _each("cpe", "cpe23"),
          "CPE 2.2 or 2.3 name", facetable=True, facet_source=_each("cpe"),
          example="cpe:*openssh*"),
    Field("tag", "list", _each("tags"), "tag set by identification", facetable=True,
          aliases=("tags",)),
    Field("os", "str", _json("os"), "operating system", facetable=True),
    Field("devicetype", "str", _json("devicetype"), "device type", facetable=True),
    Field("info", "str", _json("info"), "extra identification info"),
    Field("title", "str", Column("title"), "HTML title of the page", example='title:"Welcome*"'),
    Field("status", "str", Column("status"), "grab status (success, io-timeout, ...)",
          facetable=True),
    Field("source", "str", _json("source"),
          "where an imported record came from (nmap, masscan, zgrab2, httpx, shodan)",
          facetable=True, example="source:nmap"),
    Field("scan", "str", Column("scan_id"), "scan id", facetable=True, aliases=("scan_id",)),
    Field("worker", "str", _json("worker"), "the worker of a distributed scan that saw it",
          facetable=True, example="worker:w1@scanner-2"),
    Field("vantage", "str", _json("vantage"),
          "the source address a distributed scan's worker scanned from", facetable=True,
          example="vantage:127.21.0.2"),
    # -- when ------------------------------------------------------------------------
    Field("after", "date", Column("ts"), "seen at or after a date (2026-01-01 or ISO time)",
          implied_op="ge", example="after:2026-01-01"),
    Field("before", "date", Column("ts"), "seen before a date", implied_op="lt"),
    Field("timestamp", "date", Column("ts"), "observation time; a bare date means that day",
          example="timestamp:[2026-01-01 TO 2026-01-31]"),
    # -- http ------------------------------------------------------------------------
    Field("http.status", "int", _json("http.status"), "HTTP status code",
          facetable=True, bounds=(0, 999)),
    # the store keeps http.title in its own column: no JSON to parse per row
    Field("http.title", "str", Column("title"), "HTTP page title", facetable=True),
    Field("http.server", "str", _json("http.server"), "HTTP Server header",
          facetable=True),
    Field("http.html_hash", "int", _json("http.html_hash"), "MurmurHash3 of the body",
          facetable=True),
    Field("http.favicon.hash", "int", _json("http.favicon.hash"),
          "Shodan-style favicon hash", facetable=True),
    Field("http.version", "str", _json("http.version"), "HTTP/2 when GET / went over h2",
          facetable=True),
    # -- tls -------------------------------------------------------------------------
    Field("ssl", "bool", IsObject(("ssl",)), "the service speaks TLS", aliases=("has_ssl",)),
    Field("ssl.version", "str", _json("ssl.version"), "TLS version (TLSv1.3, ...)",
          facetable=True),
    Field("ssl.cipher", "str", _json("ssl.cipher.name"), "negotiated cipher",
          facetable=True),
    Field("ssl.alpn", "str", _json("ssl.alpn"), "negotiated ALPN protocol",
          facetable=True),
    Field("ssl.cert.subject.cn", "str", _json("ssl.cert.subject.CN"),
          "certificate subject common name", facetable=True),
    Field("ssl.cert.issuer.cn", "str", _json("ssl.cert.issuer.CN"),
          "certificate issuer common name", facetable=True),
    Field("ssl.cert.fingerprint.sha256", "str", _json("ssl.cert.fingerprint.sha256"),
          "certificate SHA-256 fingerprint (hex)"),
    Field("ssl.cert.expired", "bool", _json("ssl.cert.expired"),
          "the certificate had expired when seen"),
    Field("ssl.versions", "list", _each("ssl.versions"),
          "TLS versions offered and accepted (-TLSv1 = refused)", facetable=True,
          example="ssl.versions:TLSv1"),
    Field("ssl.verified", "bool", _json("ssl.verified"),
          "the chain verifies against the scanner's trust store"),
    Field("ssl.jarm", "str", _json("ssl.jarm"), "JARM TLS server fingerprint",
          facetable=True),
    # -- other protocols ---------------------------------------------------------------
    # SNMP's system group (grab/protocols/snmp.py; Shodan's snmp object imports into it)
    Field("snmp.sys_descr", "str", _json("snmp.sys_descr"), "SNMP sysDescr",
          facetable=True),
    Field("snmp.sys_name", "str", _json("snmp.sys_name"), "SNMP sysName",
          example="snmp.sys_name:edge-*"),
    Field("snmp.sys_object_id", "str", _json("snmp.sys_object_id"),
          "SNMP sysObjectID: the vendor's OID for the device", facetable=True,
          example="snmp.sys_object_id:1.3.6.1.4.1.9.*"),
    Field("snmp.sys_location", "str", _json("snmp.sys_location"), "SNMP sysLocation",
          facetable=True),
    Field("snmp.sys_contact", "str", _json("snmp.sys_contact"), "SNMP sysContact",
          facetable=True),
    # SMB (grab/protocols/smb.py; interop/shodan_smb.py keeps Shodan's os, shares and
    # anonymous under Shodan's names: the grabber lists no share)
    Field("smb.dialect", "str", _json("smb.dialect"), "negotiated SMB dialect",
          facetable=True),
    Field("smb.signing_required", "bool", _json("smb.signing_required"),
          "the SMB server requires message signing"),
    Field("smb.smb1", "bool", _json("smb.smb1"),
          "the SMB server still accepts an SMB1 NEGOTIATE"),
    Field("smb.null_session", "bool", _json("smb.null_session"),
          "netatlas's empty-user logon (null session) was granted"),
    Field("smb.share", "list", _each("smb.shares", member="name"),
          "a share an imported Shodan banner lists (IPC$, ADMIN$, public, ...)",
          facetable=True, example="smb.share:backup*"),
    Field("smb.os", "str", _json("smb.os"), "the OS an imported Shodan SMB banner names",
          facetable=True, example='smb.os:"Windows Server 2016*"'),
    Field("smb.anonymous", "bool", _json("smb.anonymous"),
          "Shodan's anonymous flag of an imported banner (which logon it made is not"
          " said: not smb.null_session)"),
    # FTP (grab/protocols/ftp.py; Shodan's ftp object imports into it)
    Field("ftp.anonymous", "bool", _json("ftp.anonymous"),
          "the FTP server accepted an anonymous login"),
    Field("ftp.feature", "list", _each("ftp.features"),
          "a FEAT line of the FTP server (UTF8, AUTH TLS, REST STREAM, ...)",
          facetable=True, example='ftp.feature:"AUTH*"'),
    # file and desktop sharing (grab/protocols/rsync.py, portmap.py, x11.py)
    Field("rsync.module", "list", _each("rsync.modules", member="name"),
          "a module the rsync daemon lists to anyone", facetable=True),
    Field("rpc.program", "list", _each("portmap.program_names"),
          "an ONC RPC program the portmapper lists (nfs, mountd, nlockmgr, ...)",
          facetable=True),
    Field("nfs.export", "list", _each("portmap.exports", member="dir"),
          "a directory NFS's mount daemon exports", example="nfs.export:/home*"),
    Field("x11.vendor", "str", _json("x11.vendor"), "the X server's vendor string",
          facetable=True),
    Field("spark.auth_required", "bool", _json("spark.auth_required"),
          "true: Spark's RPC port asked for SASL (spark.authenticate on); false: it took"
          " a request from anyone", example="spark.auth_required:false"),
    Field("spark.error", "str", _json("spark.error"),
          "the exception Spark's RPC port answered our unreadable request with"),
    Field("x11.status", "str", _json("x11.status"),
          "the X connection setup's answer: success, failed, authenticate"),
    Field("x11.version", "version", _json("x11.version"),
          "the X.Org server release its setup's release number packs; compares as a"
          " version", facetable=True, example="x11.version:<21.1.11"),
    # data stores and messaging (grab/protocols/kafka.py, cassandra.py, nats.py,
    # zookeeper.py, epmd.py, mqtt.py, amqp.py, mongodb.py): what names a cluster, what it
    # holds, whether it asked who we are. A release the protocol names is a "version"
    # field: <, >, [a TO b] order it as version: does (4.1rc1 < 4.1 < 4.1.3; a value that
    # is no version matches no comparison), while a value or a wildcard matches its text
    # (cassandra.release_version:4.1*). version: itself is the identified product's.
    Field("kafka.cluster_id", "str", _json("kafka.cluster_id"),
          "the Kafka cluster id Metadata names", facetable=True),
    Field("kafka.topic", "list", _each("kafka.topics", "kafka.internal_topics"),
          "a topic a Kafka broker lists to anyone (internal ones too)", facetable=True,
          example="kafka.topic:__consumer_offsets"),
    Field("kafka.broker", "list", _each("kafka.brokers", member="host"),
          "a broker host name the Kafka cluster advertises", facetable=True),
    Field("kafka.auth_required", "bool", _json("kafka.auth_required"),
          "true: the Kafka listener hung up on Metadata before authentication (SASL)"),
    Field("kafka.version_range", "str", _json("kafka.version_range"),
          "the Apache Kafka releases the broker's API keys fit", facetable=True,
          example='kafka.version_range:">=3.7.0*"'),
    Field("kafka.version_floor", "version", _json("kafka.version_floor"),
          "the earliest Apache Kafka release the broker's API keys fit; compares as a"
          " version", facetable=True, example="kafka.version_floor:>=3.7"),
    Field("cassandra.cluster_name", "str", _json("cassandra.cluster_name"),
          "Cassandra / ScyllaDB cluster name (system.local)", facetable=True),
    Field("cassandra.release_version", "version", _json("cassandra.release_version"),
          "Cassandra release_version (system.local); compares as a version",
          facetable=True,
          example="cassandra.release_version:<4.1 cassandra.release_version:4.1*"),
    Field("cassandra.data_center", "str", _json("cassandra.data_center"),
          "Cassandra data center of the node", facetable=True),
    Field("cassandra.auth_required", "bool", _json("cassandra.auth_required"),
          "true: CQL STARTUP asked for authentication; false: READY to anyone"),
    Field("cassandra.authenticator", "str", _json("cassandra.authenticator"),
          "the authenticator class CQL named", facetable=True),
    Field("cassandra.keyspace", "list", _each("cassandra.keyspaces"),
          "a keyspace Thrift's describe_keyspaces listed (an imported Shodan banner)",
          facetable=True, example="cassandra.keyspace:customers"),
    Field("nats.auth_required", "bool", _json("nats.auth_required"),
          "the NATS server's INFO asks clients to authenticate"),
    Field("nats.server_name", "str", _json("nats.server_name"), "NATS server name",
          facetable=True),
    Field("nats.cluster", "str", _json("nats.cluster"), "NATS cluster name",
          facetable=True),
    Field("nats.version", "version", _json("nats.version"),
          "the nats-server release INFO names; compares as a version", facetable=True,
          example="nats.version:<2.10"),
    Field("nats.jetstream", "bool", _json("nats.jetstream"),
          "the NATS server has JetStream (persistent streams) on"),
    Field("zookeeper.mode", "str", _json("zookeeper.mode"),
          "ZooKeeper server mode: standalone, leader, follower", facetable=True),
    Field("zookeeper.version", "version", _json("zookeeper.version"),
          "the ZooKeeper release srvr names (3.8.0-<commit>); compares as a version",
          facetable=True, example="zookeeper.version:[3.5 TO 3.8.1]"),
    Field("zookeeper.root_readable", "bool", _json("zookeeper.root_readable"),
          "an anonymous ZooKeeper session could list the children of /"),
    Field("zookeeper.znode", "list", _each("zookeeper.root_children"),
          "a znode under ZooKeeper's / (kafka, hbase, brokers, ...)", facetable=True),
    Field("epmd.node", "list", _each("epmd.nodes", member="name"),
          "an Erlang node epmd lists (rabbit, ejabberd, ...)", facetable=True),
    Field("mqtt.anonymous", "bool", _json("mqtt.anonymous"),
          "the MQTT broker accepted a CONNECT without credentials"),
    Field("mqtt.broker_version", "str", _json("mqtt.broker_version"),
          "what $SYS/broker/version said (mosquitto version 2.0.18)", facetable=True,
          example='mqtt.broker_version:"mosquitto version 1.*"'),
    Field("amqp.cluster_name", "str", _json("amqp.cluster_name"),
          "AMQP broker cluster name (RabbitMQ's server properties)", facetable=True),
    Field("amqp.version", "version", _json("amqp.version"),
          "the broker's release in AMQP's server properties (RabbitMQ 3.12.1)",
          facetable=True, example="amqp.version:<3.13"),
    Field("amqp.mechanism", "list", _each("amqp.mechanisms"),
          "an AMQP SASL mechanism offered (PLAIN, AMQPLAIN, ANONYMOUS, ...)",
          facetable=True),
    Field("mongodb.replica_set", "str", _json("mongodb.replica_set"),
          "MongoDB replica set name (hello)", facetable=True),
    Field("mongodb.version", "version", _json("mongodb.version"),
          "the MongoDB release buildInfo names; compares as a version", facetable=True,
          example="mongodb.version:<6.0"),
    # what an imported Shodan banner's listDatabases and authentication said (the
    # grabber lists no database)
    Field("mongodb.database", "list", _each("mongodb.databases", member="name"),
          "a database listDatabases named (an imported Shodan banner)", facetable=True,
          example="mongodb.database:*READ_ME*"),
    Field("mongodb.auth_required", "bool", _json("mongodb.auth_required"),
          "Shodan's authentication of an imported banner: the server has it enabled"),
    # Redis's INFO (grab/protocols/redis.py keeps INFO_KEYS in info; Shodan's redis
    # object imports into it)
    Field("redis.version", "version", _json("redis.info.redis_version"),
          "the Redis release INFO names; compares as a version", facetable=True,
          example="redis.version:<6.2"),
    Field("redis.mode", "str", _json("redis.info.redis_mode"),
          "INFO's redis_mode: standalone, cluster, sentinel", facetable=True),
    Field("redis.role", "str", _json("redis.info.role"),
          "INFO's replication role: master, slave", facetable=True),
    Field("redis.os", "str", _json("redis.info.os"), "the OS INFO names (uname)",
          facetable=True),
    Field("redis.auth_required", "bool", _json("redis.auth_required"),
          "true: INFO was refused for want of credentials (NOAUTH); false: no password"
          " asked (INFO answered, or protected mode refused it)"),
    Field("redis.key", "list", _each("redis.keys.data"),
          "a key name an imported Shodan banner lists", example="redis.key:backup*"),
    # Elasticsearch / OpenSearch over HTTP (grab/protocols/elastic.py): GET / and, when
    # that needed no credentials, _cat/indices
    Field("elastic.cluster_name", "str", _json("elastic.cluster_name"),
          "Elasticsearch / OpenSearch cluster name (GET /)", facetable=True),
    Field("elastic.cluster_uuid", "str", _json("elastic.cluster_uuid"),
          "Elasticsearch / OpenSearch cluster UUID (GET /)"),
    Field("elastic.node_name", "str", _json("elastic.node_name"),
          "the name of the node that answered GET /", facetable=True),
    Field("elastic.version", "version", _json("elastic.version"),
          "the release GET / names (version.number); compares as a version",
          facetable=True, example="elastic.version:>=7 elastic.version:[7.0 TO 7.17.3]"),
    Field("elastic.distribution", "str", _json("elastic.distribution"),
          "elasticsearch or opensearch", facetable=True),
    Field("elastic.auth_required", "bool", _json("elastic.auth_required"),
          "true: GET / asked for credentials (401 / 403 from the security layer)"),
    Field("elastic.index", "list", _each("elastic.indices", member="name"),
          "an index _cat/indices listed to a client without credentials (the 25 "
          "largest)", facetable=True, example="elastic.index:customer*"),
    Field("elastic.index_count", "int", _json("elastic.index_count"),
          "how many indices _cat/indices listed", bounds=(0, 2**31 - 1),
          example="elastic.index_count:>100"),
    Field("elastic.health", "str", _json("elastic.health"),
          "cluster health from the index list: green, yellow, red", facetable=True),
    # cameras (grab/protocols/rtsp.py, onvif.py)
    Field("rtsp.server", "str", _json("rtsp.server"), "RTSP Server header",
          facetable=True),
    Field("rtsp.status", "int", _json("rtsp.status"), "RTSP status of DESCRIBE",
          facetable=True, bounds=(0, 999)),
    Field("rtsp.auth_required", "bool", _json("rtsp.auth_required"),
          "true: RTSP DESCRIBE was answered 401 (credentials asked)"),
    Field("rtsp.realm", "str", _json("rtsp.realm"), "the realm RTSP authentication names",
          facetable=True),
    Field("onvif.name", "str", _json("onvif.name"), "the ONVIF device's name scope",
          facetable=True),
    Field("onvif.hardware", "str", _json("onvif.hardware"),
          "the ONVIF device's hardware (model) scope", facetable=True),
    Field("onvif.location", "list", _each("onvif.location"),
          "an ONVIF location scope", facetable=True),
    # -- ssh -------------------------------------------------------------------------
    Field("ssh.type", "str", _json("ssh.type"), "host key type (ssh-ed25519, ...)",
          facetable=True),
    Field("ssh.fingerprint", "str", _json("ssh.fingerprint"),
          "host key MD5 fingerprint (aa:bb:...)"),
    Field("ssh.hassh", "str", _json("ssh.hassh"), "HASSH server fingerprint",
          facetable=True),
    # -- risk ------------------------------------------------------------------------
    Field("has_vuln", "bool", NonEmpty(("vulns",)), "at least one CVE is attached"),
    Field("cvss", "version", MaxNumber(("vulns",), "cvss"),
          "highest CVSS score of the attached CVEs (numeric comparison)",
          example="cvss:>=9", bounds=(0, 10)),
    Field("vuln", "list", Each((("vulns",),), keys_or_values=True), "CVE id",
          facetable=True, aliases=("vulns", "cve"), example="vuln:CVE-2021-44228"),
    Field("risk", "list", _each("risks", member="id"),
          "risk finding id", facetable=True, aliases=("risks",)),
    Field("severity", "list", _each("risks", member="severity"),
          "severity of a risk finding: info < low < medium < high < critical",
          facetable=True, element_type="severity", example="severity:>=high"),
)

FIELDS: dict[str, Field] = {f.name: f for f in _ALL}
_BY_NAME: dict[str, Field] = {**{a: f for f in _ALL for a in f.aliases}, **FIELDS}
FACETS: tuple[str, ...] = tuple(f.name for f in _ALL if f.facetable)


def lookup(name: str) -> Field | None:
    return _BY_NAME.get(name.lower())


def close_matches(name: str, names: list[str] | None = None) -> list[str]:
    """Field names a mistyped ``name`` probably meant (``http`` -> ``http.*``)."""
    pool = names if names is not None else sorted(_BY_NAME)
    name = name.lower()
    out = [n for n in pool if n.startswith(name + ".")]
    out += [n for n in difflib.get_close_matches(name, pool, n=4, cutoff=0.6) if n not in out]
    return out[:6]


def facet_field(name: str) -> Field:
    """The field a facet counts; ValueError naming the facets there are."""
    f = lookup(name)
    if f is None or not f.facetable:
        near = difflib.get_close_matches(name.lower(), FACETS, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ValueError(f'unknown facet "{name}"{hint}; facets: {", ".join(FACETS)}')
    return f

