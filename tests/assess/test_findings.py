"""Each check fires on a record holding its evidence (recall) and stays silent on clean
records and on near misses (precision)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from netatlas.assess import CHECKS, assess
from netatlas.model import Observation


def obs(service: str | None = None, product: str | None = None, data: bytes = b"",
        **sections: dict[str, Any]) -> Observation:
    return Observation(ip="127.20.0.9", port=1, transport="tcp",
                       timestamp=datetime(2026, 11, 29, tzinfo=UTC), scan_id="s",
                       service=service, product=product, data=data, sections=dict(sections))


def tagged(o: Observation, *tags: str) -> Observation:
    o.tags = list(tags)
    return o


def http(status: int = 200, title: str | None = None, html: str = "", **kw: Any
         ) -> dict[str, Any]:
    return {"status": status, "title": title, "html": html, "location": "/", "headers": {},
            **kw}


def cert(**kw: Any) -> dict[str, Any]:
    base = {"subject": {"CN": "lab"}, "issuer": {"CN": "Lab CA"}, "expired": False,
            "expires": "2030-01-01T00:00:00+00:00", "self_signed": False,
            "pubkey": {"type": "rsa", "bits": 2048}}
    return {**base, **kw}


def ssl(version: str = "TLSv1.3", **cert_kw: Any) -> dict[str, Any]:
    return {"version": version, "cipher": {}, "cert": cert(**cert_kw)}


FTP_OK = {"banner": "(vsFTPd 3.0.3)", "code": 220, "features": ["AUTH TLS", "EPSV"],
          "syst": "UNIX", "anonymous": False}
CLEAN: dict[str, Observation] = {
    "redis-auth": obs("redis", "Redis", redis={"auth_required": True, "error": "NOAUTH x"}),
    "redis-protected": obs("redis", "Redis", redis={"auth_required": False,
                                                     "protected_mode": True, "error": "DENIED"}),
    "ftp-tls-no-anon": obs("ftp", "vsftpd", ftp=FTP_OK),
    "mqtt-auth-required": obs("mqtt", "Mosquitto", mqtt={"return_code": 5, "anonymous": False}),
    "snmp-v3-only": obs("snmp", "Net-SNMP", snmp={"community_public": False, "versions": ["v3"]}),
    # AUTH advertised only after STARTTLS (Exim's default): no cleartext login
    "smtp-starttls": obs("smtp", "Exim", smtp={"banner": "mail ESMTP", "code": 220,
                                               "ehlo": ["SIZE 52428800", "STARTTLS"],
                                               "starttls": True}),
    "imap-logindisabled": obs("imap", "Dovecot", imap={
        "status": "OK", "capabilities": ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"],
        "starttls": True, "login_disabled": True}),
    "https-good": obs("http", "nginx", http=http(title="Welcome to nginx!"), ssl=ssl()),
    "http-404": obs("http", "nginx", http=http(404, "404 Not Found")),
    "jupyter-login": obs("http", "Jupyter Notebook", http=http(
        200, "Jupyter Server", location="/login?next=%2Ftree")),
    "jupyter-redirect": obs("http", None, http=http(302, None, redirect="/tree?")),
    "elastic-401": obs("http", "Elasticsearch", http=http(401, None)),
    # the elastic section of x-pack's 401 / an anonymous user refused: never a finding
    "elastic-section-401": obs("http", "Elasticsearch", http=http(401, None), elastic={
        "auth_required": True, "status": 401, "distribution": "elasticsearch",
        "realm": "security"}),
    "opensearch-section-401": obs("http", "OpenSearch", http=http(401, None), elastic={
        "auth_required": True, "status": 401, "distribution": "opensearch"}),
    "ssh": obs("ssh", "OpenSSH", data=b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
               ssh={"version_string": "SSH-2.0-OpenSSH_9.2p1"}),
    "version-numbers": obs("http", None, http=http(
        title="Release 2.4.41", html="build 2024-01-02 v1.22.1 id 1234567890123 +1 2")),
    "soft-404-exposed": obs("http", None, http=http(exposed={"/.env": {"status": 404}})),
    "tls-ec": obs("http", None, http=http(), ssl=ssl(pubkey={"type": "ec", "bits": 256})),
    "smb-strict": obs("microsoft-ds", "Samba", smb={
        "protocol": "SMB2", "signing_required": True, "smb1": False, "null_session": False,
        "session": {"status": "STATUS_ACCESS_DENIED", "granted": False}}),
    "rdp-nla": obs("ms-wbt-server", None, rdp={"selected": "HYBRID", "standard_rdp": False,
                                               "nla_required": True}),
}

# check id -> a record with the evidence
POSITIVE: dict[str, Observation] = {
    "redis-no-auth": obs("redis", "Redis", redis={"auth_required": False,
                                                   "info": {"redis_version": "7.0.15"}}),
    "memcached-open": obs("memcached", "memcached", memcached={"version": "1.6.18",
                                                               "uptime": 5}),
    "elasticsearch-open": obs("http", "Elasticsearch", http=http(), elastic={
        "auth_required": False, "version": "8.12.1", "distribution": "elasticsearch",
        "cluster_name": "prod", "indices": [{"name": "customers", "docs": 1200, "size": 1},
                                            {"name": ".security-7", "docs": 14, "size": 1}],
        "index_count": 2}),
    "couchdb-open": obs("http", None, http=http(html='{"couchdb":"Welcome","version":"3"}')),
    "etcd-open": obs("http", "etcd", http=http()),
    "docker-api-open": obs("http", None, http=http(html='{"ApiVersion":"1.43"}')),
    "kubernetes-api-open": obs("http", None, http=http(html='{"paths":["/api","/apis/apps"]}')),
    "mongodb-open": obs("http", "MongoDB", http=http()),
    "ftp-anonymous": obs("ftp", "vsftpd", ftp={**FTP_OK, "anonymous": True}),
    "monitoring-exposed": obs("http", "Prometheus", http=http(302, api={
        "buildinfo": '{"status":"success","data":{"version":"2.42.0"}}'})),
    "open-proxy": obs("http-proxy", "Squid", http=http(400, proxy={
        "canary": "http://127.20.0.2/", "status": 200, "forwarded": True})),
    "mqtt-anonymous": obs("mqtt", "Mosquitto", mqtt={"return_code": 0, "anonymous": True}),
    "smb-null-session": obs("microsoft-ds", "Samba", smb={
        "protocol": "SMB2", "dialect": "3.1.1", "signing_required": True, "null_session": True,
        "session": {"status": "STATUS_SUCCESS", "granted": True, "flags": []}}),
    "smb-signing-not-required": obs("microsoft-ds", "Samba", smb={
        "protocol": "SMB2", "dialect": "3.1.1", "signing_enabled": True,
        "signing_required": False, "null_session": False}),
    "smb1-enabled": obs("microsoft-ds", None, smb={"protocol": "SMB1", "smb1": True,
                                                   "smb1_dialect": "NT LM 0.12",
                                                   "signing_required": True}),
    "rdp-no-nla": obs("ms-wbt-server", "xrdp", rdp={
        "requested": ["SSL", "HYBRID", "RDSTLS"], "selected": "SSL", "standard_rdp": True,
        "nla_required": False}),
    "snmp-public": obs("snmp", "Net-SNMP", snmp={"community_public": True, "sys_descr": "Linux"}),
    "ics-modbus-exposed": obs("modbus", "pymodbus", modbus={"unit_id": 0,
                                                           "vendor_name": "Pymodbus"}),
    "ics-s7-exposed": obs("iso-tsap", "Snap7", s7={"s7comm": True, "module_type": "CPU 315-2"}),
    "ics-bacnet-exposed": obs("bacnet", "BACpypes", bacnet={"vendor_name": "BACpypes"}),
    "mongodb-exposed": obs("mongodb", "MongoDB", mongodb={"buildinfo_answered": True,
                                                          "version": "7.0.4"}),
    "nats-no-auth": obs("nats", "NATS Server", nats={
        "server_id": "NBDILPWVY47GBPVDENZSDIDTDM6NBS7RADKSNTRPWPWRLFJN6GPZVHYQ",
        "version": "2.9.10", "auth_required": False}),
    "zookeeper-no-auth": obs("zookeeper", "Apache ZooKeeper", zookeeper={
        "srvr_allowed": True, "session": True, "root_readable": True,
        "root_children": ["zookeeper"]}),
    "epmd-exposed": obs("epmd", "Erlang Port Mapper Daemon", epmd={
        "port": 4369, "nodes": [{"name": "rabbit", "port": 25672}]}),
    "kafka-no-auth": obs("kafka", "Apache Kafka", kafka={
        "error_code": 0, "auth_required": False, "topic_count": 1, "topics": ["orders"],
        "brokers": [{"node_id": 1, "host": "kafka-1.lab", "port": 9092}]}),
    "cassandra-no-auth": obs("cassandra", "Apache Cassandra", cassandra={
        "cql_version": "3.4.6", "scylla": False, "auth_required": False}),
    "cleartext-login": obs("ftp", "vsftpd", ftp={**FTP_OK, "features": ["EPSV"]}),
    "smtp-user-enum": obs("smtp", "Exim", smtp={
        "code": 220, "ehlo": ["STARTTLS"], "starttls": True,
        "vrfy": {"code": 250, "text": "<postmaster@mail> is deliverable"}}),
    "tls-self-signed": obs("http", None, http=http(), ssl=ssl(self_signed=True)),
    "tls-expired": obs("http", None, http=http(), ssl=ssl(expired=True)),
    "tls-weak-version": obs("http", None, http=http(), ssl=ssl("TLSv1")),
    "tls-short-key": obs("http", None, http=http(), ssl=ssl(pubkey={"type": "rsa",
                                                                      "bits": 1024})),
    # more TLS cases (captured lab records, near misses): tests/assess/test_tls_checks.py
    "tls-insecure-cipher": obs("http", None, http=http(), ssl={
        **ssl(), "weak_ciphers": {"NULL": {"cipher": "NULL-SHA", "version": "TLSv1.2"}}}),
    "tls-weak-cipher": obs("http", None, http=http(), ssl={
        **ssl(), "weak_ciphers": {"3DES": {"cipher": "DES-CBC3-SHA", "version": "TLSv1.2"}}}),
    "tls-hostname-mismatch": obs("http", None, http=http(), ssl={
        **ssl(), "hostname": "www.lab.test", "hostname_match": False}),
    "tls-untrusted": obs("http", None, http=http(), ssl={
        **ssl(), "verified": False, "verify_error": "candidates exhausted"}),
    "git-exposed": obs("http", None, http=http(exposed={"/.git/HEAD": {
        "status": 200, "length": 21, "sample": "ref: refs/heads/main\n"}})),
    "env-exposed": obs("http", None, http=http(exposed={"/.env": {
        "status": 200, "length": 30, "sample": "DB_PASSWORD=***\n"}})),
    "http-dir-listing": obs("http", None, http=http(title="Index of /pub")),
    "server-status": obs("http", None, http=http(html="Active connections: 3 \nserver")),
    "admin-console": obs("http", None, http=http(title="phpMyAdmin")),
    "jupyter-no-token": obs("http", None, http=http(
        title="Home Page - Select or create a notebook")),
    "ai-ray-dashboard": obs("http", None, http=http(title="Ray Dashboard")),
    "ai-comfyui": obs("http", None, http=http(title="ComfyUI")),
    "ai-sd-webui": obs("http", None, http=http(title="Stable Diffusion")),
    "ai-mlflow": obs("http", None, http=http(title="MLflow")),
    "ai-ollama": obs("http", None, http=http(html="Ollama is running")),
    "ai-gradio": obs("http", None, http=http(html="<script>window.gradio_config = {}")),
    "ai-streamlit": obs("http", None, http=http(title="Streamlit")),
    "ai-tensorboard": obs("http", None, http=http(title="TensorBoard")),
    "ai-qdrant": obs("http", None, http=http(
        html='{"title":"qdrant - vector search engine","version":"1.9.0"}')),
    "ai-model-api-open": obs("http", "vLLM", http=http(404, api={
        "models": '{"object":"list","data":[{"id":"opt-125m","owned_by":"vllm"}]}'})),
    "ai-langserve": obs("http", "LangServe", http=http(404, api={
        "openapi": '{"paths":{"/joke/stream_log":{}}}'})),
    "ai-weaviate": obs("http", "Weaviate", http=http(
        api={"weaviate_meta": '{"hostname":"x","version":"1.24.1"}'})),
    "ai-chroma": obs("http", "Chroma", http=http(404, api={"chroma_version": '"1.0.0"'})),
    "ai-milvus": obs("http", None, http=http(title="Attu")),
    # infrastructure platforms (checks/platforms.py; replayed whole in test_platforms.py)
    "consul-acl-off": obs("http", "Consul", http=http(301, api={
        "consul_self": '{"Config":{"Datacenter":"dc1","NodeName":"n1","Version":"1.17.0"}}'})),
    "vault-uninitialized": obs("http", "Vault", http=http(307, api={
        "vault_health": '{"initialized":false,"sealed":true,"standby":true,'
                        '"version":"1.15.2"}'})),
    "vault-unsealed": obs("http", "Vault", http=http(307, api={
        "vault_health": '{"initialized":true,"sealed":false,"standby":false,'
                        '"version":"1.15.2"}'})),
    "kubelet-anonymous": obs("http", "Kubernetes", http=http(404, api={
        "kubelet_pods": '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":null}'})),
    "neo4j-no-auth": obs("http", "Neo4j", http=http(api={
        "neo4j_tx": "<h2>HTTP ERROR 405 Method Not Allowed</h2>"})),
    "clickhouse-no-auth": obs("http", "ClickHouse", http=http(api={
        "clickhouse_version": "23.8.2.7\n"})),
    "solr-no-auth": obs("http", "Apache Solr", http=http(302, api={
        "solr_system": '{"mode":"std","lucene":{"solr-spec-version":"9.4.0"}}'})),
    "yarn-rm-open": obs("http", None, http=http(302, api={
        "yarn_cluster_info": '{"clusterInfo":{"state":"STARTED",'
                             '"resourceManagerVersion":"3.3.6"}}'})),
    "spark-master-open": obs("http", "Apache Spark", http=http(api={
        "spark_master": '{"url":"spark://10.0.0.1:7077","aliveworkers":2,"status":"ALIVE"}'})),
    "airflow-api-open": obs("http", "Apache Airflow", http=http(302, api={
        "airflow_dags": '{"dags":[{"dag_id":"etl"}],"total_entries":1}'})),
    "grafana-anonymous": obs("http", "Grafana", http=http(api={"grafana_search": "[]"})),
    "kibana-anonymous": obs("http", "Kibana", http=http(302, api={
        "kibana_status": '{"version":{"number":"8.11.0"},"status":{"overall":'
                         '{"level":"available"}}}'})),
    "ai-triton": obs("http", None, http=http(400, api={
        "triton_server": '{"name":"triton","version":"2.41.0","extensions":[]}'})),
    "ai-torchserve": obs("http", "TorchServe", http=http(405, api={
        "torchserve_models": '{"models":[{"modelName":"resnet","modelUrl":"r.mar"}]}'})),
    "influxdb-open": obs("http", "InfluxDB", http=http(404, api={
        "influxdb_query": '{"results":[{"statement_id":0,"series":[{"name":"databases",'
                          '"columns":["name"],"values":[["_internal"]]}]}]}'})),
    "biometric-exposure": tagged(obs("http", "CompreFace", http=http(title="CompreFace")),
                                 "ai", "biometric"),
    "default-login": obs("mysql", "MariaDB", default_login={
        "tried": [{"product": "MySQL/MariaDB", "user": "root", "password": "empty",
                   "outcome": "accepted"}],
        "accepted": [{"product": "MySQL/MariaDB", "user": "root", "password": "empty"}]}),
    "rtsp-no-auth": obs("rtsp", "GStreamer RTSP Server", rtsp={
        "status": 200, "auth_required": False, "server": "GStreamer RTSP server",
        "sdp": {"session_name": "Session streamed with GStreamer",
                "media": ["video 0 RTP/AVP 96"]}}),
    "onvif-exposed": obs("onvif", "Hikvision IP camera", onvif={
        "xaddrs": ["http://127.20.0.9/onvif/device_service"], "hardware": "DS-2CD2143G2-I"}),
    "default-page": obs("http", "nginx", http=http(
        title="Welcome to nginx!", html="<p>If you see this page, the nginx web server is "
                                        "successfully installed and working.</p>")),
    # file and desktop sharing (checks/sharing.py)
    "rsync-anonymous-modules": obs("rsync", None, rsync={"version": "32.0", "modules": [
        {"name": "pub", "comment": "public files", "auth_required": False},
        {"name": "priv", "comment": "private", "auth_required": True}]}),
    "nfs-exports-open": obs("rpcbind", None, portmap={"exports": [
        {"dir": "/srv/share", "groups": ["*"], "everyone": True}]}),
    "rpc-programs-listed": obs("rpcbind", None, portmap={"programs": [
        {"program": 100000, "name": "portmapper", "version": 2, "protocol": "tcp",
         "port": 111}], "program_names": ["portmapper"]}),
    "x11-open": obs("X11", None, x11={"status": "success", "vendor": "The X.Org Foundation",
                                      "release": 12101007,
                                      "screens": [{"width": 1280, "height": 1024}]}),
    "ldap-anonymous-read": obs("ldap", "OpenLDAP", ldap={"anonymous_read": {
        "base": "dc=lab,dc=netatlas,dc=test", "entries": 2,
        "dns": ["ou=people,dc=lab,dc=netatlas,dc=test"]}}),
}

EXTRA_POSITIVE = [
    # a record without the elastic section (imported, older): GET /'s body still tells
    ("elasticsearch-open", obs("http", None, http=http(
        html='{"name":"n","tagline" : "You Know, for Search"}'))),
    ("elasticsearch-open", obs("http", "OpenSearch", http=http(), elastic={
        "auth_required": False, "version": "2.11.1", "distribution": "opensearch"})),
    ("ics-modbus-exposed", obs("modbus", None, modbus={"exception": 1,
                                                      "exception_text": "illegal function"})),
    ("cleartext-login", obs("smtp", None, smtp={"code": 220, "ehlo": ["AUTH LOGIN"],
                                                "starttls": False})),
    ("cleartext-login", obs("pop3", None, data=b"+OK Dovecot ready.\r\n")),
    # STARTTLS offered is not STARTTLS required (the lab's imap-starttls, pop3-starttls)
    ("cleartext-login", obs("imap", "Dovecot", imap={
        "status": "OK", "capabilities": ["IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"],
        "starttls": True, "login_disabled": False})),
    ("cleartext-login", obs("pop3", "Dovecot", pop3={
        "capabilities": ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE",
                         "STLS", "USER", "SASL PLAIN LOGIN"], "starttls": True})),
    ("cleartext-login", obs("smtp", "Postfix", smtp={
        "code": 220, "ehlo": ["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"],
        "starttls": True})),
    ("cleartext-login", obs("ftp", "vsftpd", ftp={**FTP_OK, "user_code": 331})),
    ("smtp-user-enum", obs("smtp", None, smtp={"code": 220, "starttls": True,
                                               "vrfy": {"code": 252, "text": "Cannot VRFY"},
                                               "expn": {"code": 250, "text": "<root@mail>"}})),
    ("cleartext-login", obs("telnet", None, data=b"\xff\xfd\x18login: ")),
    ("server-status", obs("http", None, http=http(title="Apache Status"))),
    ("jupyter-no-token", obs("http", "Jupyter Notebook", http=http(location="/api"))),
    ("ai-ollama", obs("http", "Ollama", http=http(404))),
    # the master's RPC port failed our RpcRequest without asking for SASL
    ("spark-master-open", obs("spark", "Apache Spark", spark={
        "error": "java.io.EOFException", "auth_required": False})),
]
NEAR_MISS = [
    # spark.authenticate on: "Expected SaslMessage, received something else"
    ("spark-master-open", obs("spark", "Apache Spark", spark={
        "error": "java.lang.IllegalStateException: Expected SaslMessage", "auth_required": True})),
    ("x11-open", obs("X11", None, x11={"status": "failed", "reason": "Authorization required"})),
    ("rsync-anonymous-modules", obs("rsync", None, rsync={"version": "32.0", "modules": []})),
    ("nfs-exports-open", obs("rpcbind", None, portmap={"exports": [], "programs": []})),
    ("ldap-anonymous-read", obs("ldap", "OpenLDAP", ldap={"anonymous_read": {
        "base": "dc=lab,dc=netatlas,dc=test", "entries": 0, "result_code": 0}})),
    ("rdp-no-nla", obs("ms-wbt-server", None, rdp={"selected": "HYBRID"})),  # not learned
    ("smb-signing-not-required", obs("microsoft-ds", None, smb={"protocol": "SMB2"})),
    ("smb-null-session", obs("microsoft-ds", None, smb={"null_session": "yes"})),
    ("ics-s7-exposed", obs("iso-tsap", None, s7={"s7comm": False, "src_tsap": "0x0100"})),
    ("ics-bacnet-exposed", obs("bacnet", None, bacnet={"errors": {"vendor_name": 31}})),
    ("ics-modbus-exposed", obs("modbus", None, modbus={"exception": "1", "unit_id": 0})),
    ("mongodb-exposed", obs("mongodb", "MongoDB", mongodb={"buildinfo_answered": False,
                                                           "max_wire_version": 21})),
    ("cleartext-login", obs("imap", None, data=b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n")),
    ("cleartext-login", obs("ftp", None, ftp=FTP_OK, ssl=ssl())),  # implicit FTPS
    ("cleartext-login", obs("ftp", "vsftpd", ftp={**FTP_OK, "user_code": 530})),
    ("cleartext-login", obs("pop3", "Dovecot", pop3={
        "capabilities": ["CAPA", "STLS", "SASL"], "starttls": True})),
    ("cleartext-login", obs("imap", "Dovecot", imap={
        "status": "PREAUTH", "capabilities": ["IMAP4rev1"], "starttls": False})),
    ("nats-no-auth", obs("nats", "NATS Server", nats={"server_id": "N", "auth_required": True})),
    ("nats-no-auth", obs("nats", "NATS Server", nats={})),
    ("zookeeper-no-auth", obs("zookeeper", None, zookeeper={
        "srvr_allowed": True, "session": True, "root_readable": False, "error": -102})),
    ("zookeeper-no-auth", obs("zookeeper", None, zookeeper={"srvr_allowed": True})),
    ("epmd-exposed", obs("epmd", None, epmd={"port": "4369"})),
    ("kafka-no-auth", obs("kafka", "Apache Kafka", kafka={
        "auth_required": True, "metadata_error": "connection closed on Metadata"})),
    ("cassandra-no-auth", obs("cassandra", "Apache Cassandra", cassandra={
        "auth_required": True, "authenticator": "PasswordAuthenticator"})),
    ("onvif-exposed", obs("onvif", None, onvif={"xaddrs": [], "types": []})),
    ("http-dir-listing", obs("http", None, http=http(404, "Index of /x"))),
    ("ai-mlflow", obs("http", None, http=http(401, "MLflow"))),
    ("admin-console", obs("http", None, http=http(title="Welcome to nginx!"))),
    ("tls-short-key", obs("http", None, http=http(), ssl=ssl(pubkey={"type": "ec",
                                                                       "bits": 384}))),
    ("redis-no-auth", obs("redis", None, redis={"auth_required": None})),
    ("monitoring-exposed", obs("http", "Prometheus", http=http(401, api={
        "buildinfo": '{"status":"error","errorType":"unauthorized"}'}))),
    ("biometric-exposure", obs("http", "CompreFace", http=http(title="CompreFace"))),  # untagged
    ("biometric-exposure", tagged(obs("http", "Frigate", http=http(401, "Frigate")),
                                  "biometric")),
    ("vault-unsealed", obs("http", "Vault", http=http(307, api={
        "vault_health": '{"initialized":true,"sealed":true,"version":"1.15.2"}'}))),
    ("neo4j-no-auth", obs("http", "Neo4j", http=http(api={"neo4j_tx": (
        '{"errors":[{"code":"Neo.ClientError.Security.Unauthorized"}]}')}))),
    ("kibana-anonymous", obs("http", "Kibana", http=http(302, api={
        "kibana_status": '{"status":{"overall":{"level":"available"}}}'}))),
    ("ai-torchserve", obs("http", "TorchServe", http=http(405, api={
        "torchserve_api": '{"info":{"title":"TorchServe APIs","version":"0.12.0"}}'}))),
    ("rtsp-no-auth", obs("rtsp", None, rtsp={"status": 401, "auth_required": True})),
    ("rtsp-no-auth", obs("rtsp", None, rtsp={"status": 200})),  # no SDP: not a stream
    ("open-proxy", obs("http-proxy", "Squid", http=http(403, proxy={
        "canary": "http://127.20.0.2/", "status": 403, "forwarded": False}))),
    ("smtp-user-enum", obs("smtp", None, smtp={"code": 220, "starttls": True,
                                               "vrfy": {"code": 252, "text": "Cannot VRFY"},
                                               "expn": {"code": 502, "text": "no"}})),
    ("default-login", obs("postgresql", "PostgreSQL", default_login={
        "tried": [{"product": "PostgreSQL", "user": "postgres", "password": "default",
                   "outcome": "refused"}], "accepted": []})),
    ("default-login", obs("redis", "Redis", default_login={
        "tried": [{"product": "Redis", "outcome": "error", "detail": "time bound"}],
        "accepted": [{"product": "Redis"}]})),  # no user name: not evidence
]


def ids(o: Observation) -> set[str]:
    return {f.id for f in assess(o)}


def test_every_check_has_a_positive_case() -> None:
    assert {c.id for c in CHECKS} == set(POSITIVE)
    assert len({c.id for c in CHECKS}) == len(CHECKS)


@pytest.mark.parametrize("check_id", sorted(POSITIVE))
def test_recall(check_id: str) -> None:
    findings = assess(POSITIVE[check_id])
    match = [f for f in findings if f.id == check_id]
    assert match, findings
    f = match[0]
    assert f.evidence and len(f.evidence) <= 200 and "\n" not in f.evidence
    assert f.severity in ("info", "low", "medium", "high", "critical")


@pytest.mark.parametrize(("check_id", "record"), EXTRA_POSITIVE)
def test_recall_variants(check_id: str, record: Observation) -> None:
    assert check_id in ids(record)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_precision_clean(name: str) -> None:
    assert assess(CLEAN[name]) == []


@pytest.mark.parametrize(("check_id", "record"), NEAR_MISS)
def test_precision_near_miss(check_id: str, record: Observation) -> None:
    assert check_id not in ids(record)


def test_positive_records_fire_only_their_check() -> None:
    # a record with one piece of evidence gets one finding (no collateral ones)
    for check_id, record in POSITIVE.items():
        assert ids(record) == {check_id}, (check_id, ids(record))


def test_severities_and_evidence_quote_the_record() -> None:
    [f] = assess(POSITIVE["redis-no-auth"])
    assert f.severity == "high" and "'7.0.15'" in f.evidence
    [f] = assess(POSITIVE["jupyter-no-token"])
    assert f.severity == "critical"
    [f] = assess(POSITIVE["git-exposed"])
    assert "ref: refs/heads/main" in f.evidence


def test_malformed_sections_are_no_evidence() -> None:
    weird = obs("http", None, http={"status": "200", "title": 5, "exposed": ["x"]},
                ssl={"cert": "garbage", "version": None}, redis={"info": "x"},
                ftp={"anonymous": "yes"})
    assert assess(weird) == []


def test_elasticsearch_evidence_counts_indices() -> None:
    [f] = [f for f in assess(POSITIVE["elasticsearch-open"]) if f.id == "elasticsearch-open"]
    assert f.evidence == ("GET / answered without credentials (Elasticsearch '8.12.1', "
                          "cluster 'prod'); _cat/indices listed 2 index(es): 'customers', "
                          "'.security-7'")
    many = obs("http", "OpenSearch", http=http(), elastic={
        "auth_required": False, "version": "2.11.1", "distribution": "opensearch",
        "indices": [{"name": "x" * 300 + str(n)} for n in range(25)], "index_count": 4000,
        "indices_truncated": True})
    [f] = [f for f in assess(many) if f.id == "elasticsearch-open"]
    assert f.evidence.startswith("GET / answered without credentials (OpenSearch '2.11.1'); "
                                 "_cat/indices listed 4000 index(es): 'xxx")
    assert len(f.evidence) <= 200
    # the list itself refused: the root still answered without credentials
    refused = obs("http", "Elasticsearch", http=http(), elastic={
        "auth_required": False, "version": "7.17.0", "indices_status": 403})
    assert "_cat/indices answered '403'" in next(
        f.evidence for f in assess(refused) if f.id == "elasticsearch-open")

