"""What infrastructure platforms send, as bytes, for the replay servers of
test_platforms.py: each sample says where it comes from. Four were captured here from
the real software (ClickHouse 18.16.1 from Debian 12; TorchServe 0.12.0, pyspark
4.3.0's Spark master and Airflow 3.3.2 from PyPI; runs on 127.20.14.x); the others are
the platforms' documented or source-level replies, with the headers their HTTP stacks
add."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

Raw = bytes


def reply(status: str, headers: list[str], body: bytes | str = b"") -> Raw:
    """One HTTP/1.1 response: the status line, ``headers``, Content-Length, the body."""
    data = body.encode() if isinstance(body, str) else body
    head = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(data)}", "", ""]
    return "\r\n".join(head).encode() + data


GO_TEXT = ["Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff"]
JSON = ["Content-Type: application/json"]
# Go's net/http: NotFound and Redirect bodies, byte for byte (net/http/server.go)
GO_404 = "404 page not found\n"


def go_redirect(code: str, location: str, extra: list[str] | None = None) -> Raw:
    text = code.split(" ", 1)[1]
    return reply(code, [f"Location: {location}", "Content-Type: text/html; charset=utf-8",
                        *(extra or [])], f'<a href="{location}">{text}</a>.\n\n')


def jetty_error(code: int, message: str, extra: list[str] | None = None) -> Raw:
    """Jetty 9.4's default error page (ErrorHandler), as Solr, Hadoop and Neo4j 4 send."""
    body = (f'<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset='
            f'ISO-8859-1"/>\n<title>Error {code} {message}</title>\n</head>\n<body><h2>HTTP '
            f"ERROR {code} {message}</h2>\n<table>\n<tr><th>STATUS:</th><td>{code}</td></tr>\n"
            f"<tr><th>MESSAGE:</th><td>{message}</td></tr>\n</table>\n\n</body>\n</html>\n")
    return reply(f"{code} {message}", ["Content-Type: text/html;charset=iso-8859-1",
                                       *(extra or [])], body)


# --- Consul ------------------------------------------------------------------------
# GET /: agent/http.go Index() redirects to the UI's content path with 301, or says the
# UI is off; any other path outside /v1/ is a 404 with this sentence.
CONSUL_ROOT = go_redirect("301 Moved Permanently", "/ui/")
CONSUL_NO_UI = reply("200 OK", GO_TEXT, "Consul Agent: UI disabled. To enable, set "
                     "ui_config.enabled=true in the agent configuration and restart.")
CONSUL_404 = reply("404 Not Found", GO_TEXT, "Invalid URL path: if attempting to use the "
                   "HTTP API, ensure the path starts with '/v1/'\n")
# website/content/api-docs/agent/index.mdx, "Read Configuration" sample response
CONSUL_SELF = reply("200 OK", [*JSON, "Vary: Accept-Encoding"], (
    '{"Config":{"Datacenter":"dc1","NodeName":"foobar","NodeID":"9d754d17-d864-b1d3-e758-'
    'f3fe25a9874f","Server":true,"Revision":"deadbeef","Version":"1.0.0"},"DebugConfig":{},'
    '"Coord":{"Adjustment":0,"Error":1.5,"Vec":[0,0,0,0,0,0,0,0]},"Member":{"Name":"foobar",'
    '"Addr":"10.1.10.12","Port":8301,"Tags":{"bootstrap":"1","dc":"dc1","role":"consul"},'
    '"Status":1},"Meta":{"instance_type":"i2.xlarge","os_version":"ubuntu_16.04"}}'))
# ACLs with default_policy deny: the anonymous token lacks agent:read (acl/errors.go
# PermissionDeniedByACL message, Consul 1.11+)
CONSUL_DENIED = reply("403 Forbidden", GO_TEXT, "Permission denied: token with AccessorID "
                      "'00000000-0000-0000-0000-000000000002' lacks permission 'agent:read' "
                      "on \"foobar\"")

# --- Vault -------------------------------------------------------------------------
# http/handler.go: handleRootRedirect() is a 307 to /ui/, and wrapGenericHandler sets
# Cache-Control: no-store on every reply; without the UI, / is Go's own 404.
NO_STORE = ["Cache-Control: no-store"]
VAULT_ROOT = go_redirect("307 Temporary Redirect", "/ui/", NO_STORE)
VAULT_NO_UI = reply("404 Not Found", [*GO_TEXT, *NO_STORE], GO_404)
# website/content/api-docs/system/health.mdx sample response (active, unsealed: 200)
VAULT_UNSEALED = reply("200 OK", [*NO_STORE, *JSON], (
    '{"initialized":true,"sealed":false,"standby":false,"performance_standby":false,'
    '"replication_performance_mode":"disabled","replication_dr_mode":"disabled",'
    '"server_time_utc":1516639589,"version":"0.9.2","cluster_name":"vault-cluster-3bd69ca2",'
    '"cluster_id":"00af5aa8-c87d-b5fc-e82e-97cd8dfaf731"}'))
# the same document in the states the page lists by code: 503 sealed, 501 not
# initialized (a sealed node has no cluster name or id yet: http/sys_health.go)
VAULT_SEALED = reply("503 Service Unavailable", [*NO_STORE, *JSON], (
    '{"initialized":true,"sealed":true,"standby":true,"performance_standby":false,'
    '"replication_performance_mode":"unknown","replication_dr_mode":"unknown",'
    '"server_time_utc":1700000000,"version":"1.15.2"}'))
VAULT_UNINIT = reply("501 Not Implemented", [*NO_STORE, *JSON], (
    '{"initialized":false,"sealed":true,"standby":true,"performance_standby":false,'
    '"replication_performance_mode":"unknown","replication_dr_mode":"unknown",'
    '"server_time_utc":1700000000,"version":"1.15.2"}'))

# --- kubelet -----------------------------------------------------------------------
# / is not a route of the kubelet's go-restful container: Go's own 404 (10250 with
# anonymous auth and AlwaysAllow, and the read-only port 10255)
KUBELET_ROOT = reply("404 Not Found", GO_TEXT, GO_404)
# a read-only port's /pods as published by a cluster operator ("curl 10.20.5.1:10255/pods",
# cut there after the first pod's uid; closed here), and datadog-agent's
# test/integration emptyPodList
KUBELET_PODS = reply("200 OK", JSON, (
    '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":'
    '"metrics-server-v0.2.1-675ccb567f-x7fbt","generateName":"metrics-server-v0.2.1-'
    '675ccb567f-","namespace":"kube-system","selfLink":"/api/v1/namespaces/kube-system/pods/'
    'metrics-server-v0.2.1-675ccb567f-x7fbt","uid":"d4d08bb2-3675-11e9-a097-0add60e45816"},'
    '"spec":{},"status":{"phase":"Running"}}]}\n'))
KUBELET_EMPTY = reply("200 OK", JSON,
                      '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":null}\n')
# anonymous auth off (kubeadm's default): every path is 401 "Unauthorized"; anonymous on
# with Webhook authorization: the authorizer's 403 (pkg/kubelet/server/auth.go)
KUBELET_401 = reply("401 Unauthorized", GO_TEXT, "Unauthorized\n")
KUBELET_403 = reply("403 Forbidden", GO_TEXT, "Forbidden (user=system:anonymous, verb=get, "
                    "resource=nodes, subresource=proxy)")

# --- Neo4j -------------------------------------------------------------------------
# GET / of Neo4j 4.4.26 community as nmap's GetRequest fingerprint recorded it
NEO4J_ROOT = reply("200 OK", ["Access-Control-Allow-Origin: *", *JSON, "Vary: Accept"], (
    '{\n  "bolt_routing" : "neo4j://127.0.0.1:7687",\n  "transaction" : "http://127.0.0.1:'
    '7474/db/{databaseName}/tx",\n  "bolt_direct" : "bolt://127.0.0.1:7687",\n  '
    '"neo4j_version" : "4.4.26",\n  "neo4j_edition" : "community"\n}'))
# authentication on (the default): the documented reply to a request without credentials
NEO4J_401 = reply("401 Unauthorized", ['WWW-Authenticate: Basic realm="Neo4j"', *JSON], (
    '{\n  "errors" : [ {\n    "code" : "Neo.ClientError.Security.Unauthorized",\n    '
    '"message" : "No authentication header supplied."\n  } ]\n}'))
# authentication off: the transaction resource takes POST only, so Jersey's 405 comes
# through Jetty's error page (not captured: Jetty 9.4's default page shape)
NEO4J_405 = jetty_error(405, "Method Not Allowed", ["Allow: POST,OPTIONS"])

# --- ClickHouse (captured: clickhouse-server 18.16.1+ds-7.3+b2, Debian 12) --------------
CH_HEAD = ["Date: Sat, 05 Dec 2026 13:03:50 GMT", "Connection: Keep-Alive",
           "Keep-Alive: timeout=10"]
CLICKHOUSE_ROOT = reply("200 OK", [*CH_HEAD, "Content-Type: text/html; charset=UTF-8"], "Ok.\n")
CLICKHOUSE_VERSION = reply("200 OK", [*CH_HEAD, "Content-Type: text/tab-separated-values; "
                                      "charset=UTF-8", "X-ClickHouse-Server-Display-Name: vm"],
                           "18.16.1\n")
CLICKHOUSE_401 = reply("401 Unauthorized", [
    *CH_HEAD, "Content-Type: text/plain; charset=UTF-8", "X-ClickHouse-Server-Display-Name: vm",
    'WWW-Authenticate: Basic realm="ClickHouse server HTTP API"'],
    "Code: 194, e.displayText() = DB::Exception: Password required for user default, "
    "e.what() = DB::Exception\n")
CLICKHOUSE_404 = reply("404 Not Found", ["Date: Sat, 05 Dec 2026 13:03:50 GMT",
                                         "Connection: Close"], (
    "There is no handle /netatlas-x\n\nUse / or /ping for health checks.\nOr /replicas_status "
    "for more sophisticated health checks.\n\nSend queries from your program with POST method "
    "or GET /?query=...\n\nUse clickhouse-client:\n\nFor interactive data analysis:\n    "
    "clickhouse-client\n\nFor batch query processing:\n    clickhouse-client --query='SELECT 1'"
    " > result\n    clickhouse-client < query > result\n"))
# the native protocol's port (tcp_port) to any HTTP request, then it closes: no headers
# (captured: the lab's clickhouse-native, 127.20.0.90:19000, whose http_port is 18123)
CLICKHOUSE_NATIVE = (b"HTTP/1.0 400 Bad Request\r\n\r\nPort 19000 is for clickhouse-client "
                     b"program.\r\nYou must use port 18123 for HTTP.\r\n")

# --- Podman (captured: podman 4.3.1+ds1-8+deb12u1, Debian 12: the lab's podman-api,
# `podman system service tcp:...`). Its Docker-compatible /version; every other path here
# is Go's plain 404 (GET / too).
PODMAN_VERSION = reply("200 OK", [
    "Api-Version: 1.41", "Content-Type: application/json", "Libpod-Api-Version: 4.3.1",
    "Server: Libpod/4.3.1 (linux)", "X-Reference-Id: 0xc000014330",
    "Date: Sat, 05 Dec 2026 17:17:11 GMT"], (
    '{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine",'
    '"Version":"4.3.1","Details":{"APIVersion":"4.3.1","Arch":"amd64","BuildTime":'
    '"1970-01-01T00:00:00Z","Experimental":"false","GitCommit":"","GoVersion":"go1.19.8",'
    '"KernelVersion":"6.18.44-fc-v1147","MinAPIVersion":"4.0.0","Os":"linux"}},{"Name":'
    '"Conmon","Version":"conmon version 2.1.6, commit: unknown","Details":{"Package":'
    '"conmon_2.1.6+ds1-1_amd64"}},{"Name":"OCI Runtime (crun)","Version":"crun version '
    '1.8.1\\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\\nrundir: /run/crun\\nspec: '
    '1.0.0\\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL","Details":{"Package":'
    '"crun_1.8.1-1+deb12u1_amd64"}}],"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":'
    '"1.24","GitCommit":"","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64",'
    '"KernelVersion":"6.18.44-fc-v1147","BuildTime":"1970-01-01T00:00:00Z"}\n'))
PODMAN_404 = reply("404 Not Found", [*GO_TEXT, "Date: Sat, 05 Dec 2026 17:17:11 GMT"],
                   "Not Found\n")

# --- Solr --------------------------------------------------------------------------
# server/etc/jetty.xml's RedirectRegexRule sends / to /solr/ (Jetty makes it absolute)
SOLR_ROOT = reply("302 Found", ["Location: http://127.0.0.1:8983/solr/"])
# cloudera/hue's MockSolrCdhCloudHdfsApi.info_system (a CDH 5.13 Solr's reply)
SOLR_SYSTEM = reply("200 OK", ["Content-Type: text/plain;charset=utf-8"], (
    '{"responseHeader":{"status":0,"QTime":5},"mode":"solrcloud","lucene":{"solr-spec-version"'
    ':"4.10.3","solr-impl-version":"4.10.3-cdh5.13.0-SNAPSHOT Unversioned directory - jenkins '
    '- 2017-06-23 06:37:12","lucene-spec-version":"4.10.3"},"jvm":{"version":"1.7.0_67 '
    '24.65-b04"}}'))
# BasicAuthPlugin's challenge ("require authentication", realm solr)
SOLR_401 = jetty_error(401, "require authentication", ['WWW-Authenticate: Basic realm="solr"'])

# --- Hadoop YARN ResourceManager -------------------------------------------------------
# the RM web app sends / to /cluster; hadoop-yarn-site ResourceManagerRest.md, "Cluster
# Information API" JSON response
YARN_ROOT = reply("302 Found", ["Cache-Control: no-cache", "Content-Type: text/plain; "
                                "charset=utf-8", "Location: http://127.0.0.1:8088/cluster"])
YARN_INFO = reply("200 OK", ["Cache-Control: no-cache", "Content-Type: application/json"], (
    '{"clusterInfo":{"id":1324053971963,"startedOn":1324053971963,"state":"STARTED",'
    '"haState":"ACTIVE","rmStateStoreName":"org.apache.hadoop.yarn.server.resourcemanager.'
    'recovery.NullRMStateStore","resourceManagerVersion":"3.0.0-SNAPSHOT",'
    '"resourceManagerBuildVersion":"3.0.0-SNAPSHOT from unknown by user1 source checksum '
    '11111111111111111111111111111111","resourceManagerVersionBuiltOn":"2016-01-01T01:00Z",'
    '"hadoopVersion":"3.0.0-SNAPSHOT","haZooKeeperConnectionState":"ResourceManager HA is '
    'not enabled."}}'))
# Kerberos (hadoop.http.authentication.type kerberos): SPNEGO challenge
YARN_401 = jetty_error(401, "Authentication required", ["WWW-Authenticate: Negotiate"])

# --- Spark (captured: pyspark 4.3.0's standalone Master, --webui-port 18090) --------------
SPARK_HEAD = ["Cache-Control: no-cache, no-store, must-revalidate", "X-Frame-Options: "
              "SAMEORIGIN", "X-Content-Type-Options: nosniff"]
SPARK_ROOT = reply("200 OK", [*SPARK_HEAD, "Content-Type: text/html;charset=utf-8"], (
    '<!DOCTYPE html><html data-bs-theme="light">\n      <head>\n        <meta http-equiv='
    '"Content-type" content="text/html; charset=utf-8"/><title>Spark Master at spark://'
    '127.20.14.5:17077</title>\n      </head>\n      <body>\n          <div class="row">\n'
    '            <div class="col-12">\n              <h3 class="align-middle d-inline-block">\n'
    '                <a class="text-decoration-none" href="/">\n                  <img class='
    '"spark-logo" src="/static/spark-logo.svg" alt="Spark Logo" height="36"/>\n'
    '                  <span class="version me-3">4.3.0</span>\n                </a>\n'
    '                Spark Master at spark://127.20.14.5:17077\n              </h3>\n'
    '            </div>\n          </div>\n      </body>\n    </html>'))
SPARK_JSON = reply("200 OK", [*SPARK_HEAD, "Content-Type: text/json;charset=utf-8"], (
    '{\n  "url" : "spark://127.20.14.5:17077",\n  "workers" : [ ],\n  "aliveworkers" : 0,\n'
    '  "cores" : 0,\n  "coresused" : 0,\n  "memory" : 0,\n  "memoryused" : 0,\n  "resources"'
    ' : [ ],\n  "resourcesused" : [ ],\n  "activeapps" : [ ],\n  "completedapps" : [ ],\n'
    '  "activedrivers" : [ ],\n  "completeddrivers" : [ ],\n  "status" : "ALIVE"\n}'))
# the master's REST submission server (spark.master.rest.enabled) on / and on any
# other path (captured as the UI above)
SPARK_REST_HEAD = ["Date: Sat, 05 Dec 2026 13:32:36 GMT", "Content-Type: application/json;"
                   "charset=utf-8"]
SPARK_REST_ROOT = reply("400 Bad Request", SPARK_REST_HEAD, (
    '{\n  "action" : "ErrorResponse",\n  "message" : "Missing protocol version. Please submit '
    'requests through http://[host]:[port]/v1/submissions/...",\n  "serverSparkVersion" : '
    '"4.3.0"\n}'))
SPARK_REST_OTHER = reply("468 468", SPARK_REST_HEAD, (
    '{\n  "action" : "ErrorResponse",\n  "highestProtocolVersion" : "v1",\n  "message" : '
    '"Unknown protocol version \'netatlas-x\'. Please submit requests through http://[host]:'
    '[port]/v1/submissions/...",\n  "serverSparkVersion" : "4.3.0"\n}'))
# spark.ui.filters with an authenticating filter: the UI refuses before any page
SPARK_401 = jetty_error(401, "Unauthorized", ['WWW-Authenticate: Basic realm="spark"'])

# --- Airflow 2 ---------------------------------------------------------------------
# Flask sends / to /home; the v1 REST API's schemas (airflow/api_connexion/openapi/v1.yaml:
# HealthInfo, VersionInfo, DAGCollection) and its 401 problem document
AIRFLOW_ROOT = reply("302 FOUND", ["Server: gunicorn", "Content-Type: text/html; "
                                   "charset=utf-8", "Location: /home"], (
    '<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n'
    '<p>You should be redirected automatically to the target URL: <a href="/home">/home</a>. '
    'If not, click the link.\n'))
AIRFLOW_HEALTH = reply("200 OK", ["Server: gunicorn", *JSON], (
    '{\n  "dag_processor": {\n    "latest_dag_processor_heartbeat": null,\n    "status": null\n'
    '  },\n  "metadatabase": {\n    "status": "healthy"\n  },\n  "scheduler": {\n    '
    '"latest_scheduler_heartbeat": "2023-11-09T10:17:39.191811+00:00",\n    "status": '
    '"healthy"\n  },\n  "triggerer": {\n    "latest_triggerer_heartbeat": null,\n    '
    '"status": null\n  }\n}\n'))
AIRFLOW_VERSION = reply("200 OK", ["Server: gunicorn", *JSON],
                        '{\n  "git_version": ".release:2.7.3+1e3f8d4c2a", \n  "version": '
                        '"2.7.3"\n}\n')
AIRFLOW_DAGS = reply("200 OK", ["Server: gunicorn", *JSON], (
    '{\n  "dags": [\n    {\n      "dag_id": "example_bash_operator",\n      "is_paused": true,'
    '\n      "is_active": true,\n      "owners": ["airflow"],\n      "fileloc": "/opt/airflow/'
    'dags/example_bash_operator.py"\n    }\n  ],\n  "total_entries": 1\n}\n'))
AIRFLOW_401 = reply("401 UNAUTHORIZED", ["Server: gunicorn", "Content-Type: application/"
                                         "problem+json", 'WWW-Authenticate: Basic realm='
                                         '"Authentication Required"'], (
    '{\n  "detail": null,\n  "status": 401,\n  "title": "Unauthorized",\n  "type": "https://'
    'airflow.apache.org/docs/apache-airflow/2.7.3/stable-rest-api-ref.html#section/Errors/'
    'Unauthenticated"\n}\n'))

# --- Airflow 3 (captured: apache-airflow 3.3.2 from PyPI, `airflow api-server`) ---------
# / is the React app page on uvicorn; /api/v1 is gone; /api/v2/version is public and
# /api/v2/dags needs a login unless simple_auth_manager_all_admins is on
AF3_HEAD = ["date: Sat, 05 Dec 2026 13:32:59 GMT", "server: uvicorn"]
AIRFLOW3_ROOT = reply("200 OK", [*AF3_HEAD, "content-type: text/html; charset=utf-8",
                                 "vary: Accept-Encoding"], (
    '<!doctype html>\n<html style="height: 100%" dir="ltr" lang="en">\n  <head>\n    <meta '
    'charset="UTF-8" />\n    <base href="/" />\n    <link rel="icon" type="image/png" href='
    '"./static/pin_32.png" />\n    <meta name="viewport" content="width=device-width, '
    'initial-scale=1.0" />\n    <title>Airflow</title>\n    <script type="module" crossorigin '
    'src="./static/assets/index-1ifPC3Lo.js"></script>\n  </head>\n  <body style="height: '
    '100%">\n    <div id="root"></div>\n  </body>\n</html>\n'))
AIRFLOW3_VERSION = reply("200 OK", [*AF3_HEAD, "content-type: application/json"],
                         '{"version":"3.3.2","git_version":".release:aa19d2dbb9ed187ec01957a92'
                         '848d9b005e9ba9d"}')
AIRFLOW3_DAGS = reply("200 OK", [*AF3_HEAD, "content-type: application/json"],
                      '{"dags":[],"total_entries":0}')
AIRFLOW3_401 = reply("401 Unauthorized", [*AF3_HEAD, "content-type: application/json"],
                     '{"detail":"Not authenticated"}')

# --- Grafana -----------------------------------------------------------------------
# anonymous access on: / is the app page itself; /api/health as the app.grafana-health
# rule's example; /api/search as docs/sources/developers/http_api/folder_dashboard_search.md
GRAFANA_APP = reply("200 OK", ["Cache-Control: no-store", "Content-Type: text/html; "
                               "charset=UTF-8", "X-Frame-Options: deny"],
                    '<!doctype html><html lang="en-US"><head><meta charset="utf-8"/>'
                    '<title>Grafana</title><base href="/"/></head><body></body></html>')
GRAFANA_LOGIN = go_redirect("302 Found", "/login", ["Cache-Control: no-store"])
GRAFANA_HEALTH = reply("200 OK", JSON, '{\n  "commit": "895fbafb7a",\n  "database": "ok",\n'
                       '  "version": "10.2.3"\n}')
GRAFANA_SEARCH = reply("200 OK", JSON, (
    '[{"id":163,"uid":"000000163","title":"Folder","url":"/dashboards/f/000000163/folder",'
    '"type":"dash-folder","tags":[],"isStarred":false,"uri":"db/folder"},{"id":1,"uid":'
    '"cIBgcSjkk","title":"Production Overview","url":"/d/cIBgcSjkk/production-overview",'
    '"type":"dash-db","tags":["prod"],"isStarred":true,"uri":"db/production-overview"}]'))
GRAFANA_401 = reply("401 Unauthorized", JSON, '{"extra":null,"message":"Unauthorized",'
                    '"messageId":"auth.unauthorized","statusCode":401,"traceID":""}')

# --- Kibana ------------------------------------------------------------------------
# every reply carries kbn-name; / goes to the space selector with security on
KBN = ["kbn-name: kibana", "kbn-license-sig: 5c7a9d1b0e", "Cache-Control: private, "
       "no-cache, no-store, must-revalidate"]
KIBANA_ROOT = reply("302 Found", [*KBN, "location: /spaces/enter"])
# `curl http://localhost:5601/api/status` on Kibana 8.11.0 as a published setup guide
# shows it (cut after the core services; closed here)
KIBANA_STATUS = reply("200 OK", [*KBN, *JSON], (
    '{"name":"990dacde1431","uuid":"70a628cf-c00a-4aa2-a390-2c4a5ada114f","version":{"number":'
    '"8.11.0","build_hash":"f2ea0c43ec0d854259d63d926b97e5c556b5f6b2","build_number":68160,'
    '"build_snapshot":false,"build_date":"2023-11-04T11:05:45.363Z"},"status":{"overall":'
    '{"level":"available","summary":"All services are available"},"core":{"elasticsearch":'
    '{"level":"available","summary":"Elasticsearch is available"}}}}'))
KIBANA_REDACTED = reply("200 OK", [*KBN, *JSON], '{"status":{"overall":{"level":"available"}}}')
KIBANA_401 = reply("401 Unauthorized", [*KBN, *JSON],
                   '{"statusCode":401,"error":"Unauthorized","message":"Unauthorized"}')

# --- Triton Inference Server ----------------------------------------------------------
# src/http_server.cc: a path it has no handler for gets evhtp_send_reply(req,
# EVHTP_RES_BADREQ), an empty 400; GET /v2 as a tutorial captured it from 22.06 (2.23.0)
TRITON_ROOT = reply("400 Bad Request", [])
TRITON_V2 = reply("200 OK", ["Content-Type: application/json"], (
    '{"name":"triton","version":"2.23.0","extensions":["classification","sequence",'
    '"model_repository","model_repository(unload_dependents)","schedule_policy",'
    '"model_configuration","system_shared_memory","cuda_shared_memory","binary_tensor_data",'
    '"statistics","trace"]}'))

# --- TorchServe (captured: torchserve 0.12.0, Java 17) -----------------------------------
TS_HEAD = ["content-type: application/json", "x-request-id: 2c8d3a21-6852-410d-ae2a-"
           "d71c07d7f65f", "Pragma: no-cache", "Cache-Control: no-cache; no-store, "
           "must-revalidate, private", "Expires: Thu, 01 Jan 1970 00:00:00 UTC"]
TS_ROOT = reply("405 Method Not Allowed", TS_HEAD, (
    '{\n  "code": 405,\n  "type": "MethodNotAllowedException",\n  "message": "Requested method'
    ' is not allowed, please refer to API document."\n}\n'))
TS_404 = reply("404 Not Found", TS_HEAD, (
    '{\n  "code": 404,\n  "type": "ResourceNotFoundException",\n  "message": "Requested '
    'resource is not found, please refer to API document."\n}\n'))
TS_API = reply("200 OK", TS_HEAD, (  # the first lines of 23,406 bytes
    '{\n  "openapi": "3.0.1",\n  "info": {\n    "title": "TorchServe APIs",\n    "description":'
    ' "TorchServe is a flexible and easy to use tool for serving deep learning models",\n    '
    '"version": "0.12.0"\n  },\n  "paths": {}\n}\n'))
TS_PING = reply("200 OK", TS_HEAD, '{\n  "status": "Healthy"\n}\n')
TS_MODELS = reply("200 OK", TS_HEAD, '{\n  "models": []\n}\n')
# token authorization on (0.12's default): 400, not 401
TS_TOKEN = reply("400 Bad Request", TS_HEAD, (
    '{\n  "code": 400,\n  "type": "InvalidKeyException",\n  "message": "Token Authorization '
    'failed. Token either incorrect, expired, or not provided correctly"\n}\n'))

DEFAULT_404 = reply("404 Not Found", ["Content-Type: text/html"], "<h1>Not Found</h1>")


@dataclass
class Replay:
    """A recording server that answers each path (query string included) with its
    recorded bytes, and any other with ``other``."""

    routes: dict[str, Raw]
    other: Raw = DEFAULT_404
    paths: list[str] = field(default_factory=list)

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            w.close()  # a probe that is not HTTP (detection tries a few)
            return
        line = head.split(b"\r\n", 1)[0]
        path = line.split(b" ")[1].decode("latin-1") if b" " in line else "/"
        if line.endswith(b" HTTP/1.1"):  # the grabber's own (nmap's probe is HTTP/1.0)
            self.paths.append(path)
        w.write(self.routes.get(path, self.other))
        with contextlib.suppress(ConnectionError):
            await w.drain()
        w.close()


# name -> (the replay server, the product and version identify must name, the findings)
PLATFORMS: dict[str, tuple[Replay, tuple[str, str | None], set[str]]] = {}


def _add(name: str, routes: dict[str, Raw], other: Raw, product: tuple[str, str | None],
         findings: set[str]) -> None:
    PLATFORMS[name] = (Replay(routes, other), product, findings)


def build() -> dict[str, tuple[Replay, tuple[str, str | None], set[str]]]:
    """Fresh servers (each records its requests) for every platform and state."""
    PLATFORMS.clear()
    _add("consul-open", {"/": CONSUL_ROOT, "/v1/agent/self": CONSUL_SELF}, CONSUL_404,
         ("Consul", "1.0.0"), {"consul-acl-off"})
    _add("consul-acl-deny", {"/": CONSUL_ROOT, "/v1/agent/self": CONSUL_DENIED}, CONSUL_404,
         ("Consul", None), set())
    _add("consul-no-ui", {"/": CONSUL_NO_UI, "/v1/agent/self": CONSUL_SELF}, CONSUL_404,
         ("Consul", "1.0.0"), {"consul-acl-off"})
    _add("vault-unsealed", {"/": VAULT_ROOT, "/v1/sys/health": VAULT_UNSEALED}, VAULT_NO_UI,
         ("Vault", "0.9.2"), {"vault-unsealed"})
    _add("vault-sealed", {"/": VAULT_ROOT, "/v1/sys/health": VAULT_SEALED}, VAULT_NO_UI,
         ("Vault", "1.15.2"), set())
    _add("vault-uninit", {"/": VAULT_NO_UI, "/v1/sys/health": VAULT_UNINIT}, VAULT_NO_UI,
         ("Vault", "1.15.2"), {"vault-uninitialized"})
    _add("kubelet-anonymous", {"/": KUBELET_ROOT, "/pods": KUBELET_PODS}, KUBELET_ROOT,
         ("Kubernetes", None), {"kubelet-anonymous"})
    _add("kubelet-readonly-empty", {"/": KUBELET_ROOT, "/pods": KUBELET_EMPTY}, KUBELET_ROOT,
         ("Kubernetes", None), {"kubelet-anonymous"})
    _add("kubelet-webhook", {}, KUBELET_403, ("Kubernetes", None), set())
    _add("neo4j-no-auth", {"/": NEO4J_ROOT, "/db/neo4j/tx": NEO4J_405},
         jetty_error(404, "Not Found"), ("Neo4j", "4.4.26"), {"neo4j-no-auth"})
    _add("neo4j-auth", {"/": NEO4J_ROOT}, NEO4J_401, ("Neo4j", "4.4.26"), set())
    _add("clickhouse-open", {"/": CLICKHOUSE_ROOT, "/?query=SELECT%20version()":
                             CLICKHOUSE_VERSION}, CLICKHOUSE_404, ("ClickHouse", "18.16.1"),
         {"clickhouse-no-auth"})
    _add("clickhouse-password", {"/": CLICKHOUSE_ROOT, "/?query=SELECT%20version()":
                                 CLICKHOUSE_401}, CLICKHOUSE_404, ("ClickHouse", None), set())
    _add("clickhouse-native", {}, CLICKHOUSE_NATIVE, ("ClickHouse", None), set())
    _add("podman-open", {"/version": PODMAN_VERSION}, PODMAN_404, ("Podman", "4.3.1"),
         {"docker-api-open"})
    _add("solr-open", {"/": SOLR_ROOT, "/solr/admin/info/system?wt=json": SOLR_SYSTEM},
         jetty_error(404, "Not Found"), ("Apache Solr", "4.10.3"), {"solr-no-auth"})
    _add("solr-basic-auth", {"/": SOLR_ROOT}, SOLR_401, ("Apache Solr", None), set())
    _add("yarn-open", {"/": YARN_ROOT, "/ws/v1/cluster/info": YARN_INFO},
         jetty_error(404, "Not Found"), ("Hadoop YARN ResourceManager", "3.0.0"),
         {"yarn-rm-open"})
    _add("yarn-kerberos", {"/": YARN_ROOT}, YARN_401, ("", None), set())
    _add("spark-master", {"/": SPARK_ROOT, "/json/": SPARK_JSON}, SPARK_ROOT,
         ("Apache Spark", "4.3.0"), {"spark-master-open", "admin-console"})
    _add("spark-auth", {}, SPARK_401, ("", None), set())
    _add("airflow-open", {"/": AIRFLOW_ROOT, "/api/v1/health": AIRFLOW_HEALTH,
                          "/api/v1/version": AIRFLOW_VERSION, "/api/v1/dags": AIRFLOW_DAGS},
         DEFAULT_404, ("Apache Airflow", "2.7.3"), {"airflow-api-open"})
    _add("airflow-auth", {"/": AIRFLOW_ROOT, "/api/v1/health": AIRFLOW_HEALTH,
                          "/api/v1/version": AIRFLOW_VERSION, "/api/v1/dags": AIRFLOW_401},
         DEFAULT_404, ("Apache Airflow", "2.7.3"), set())
    _add("airflow3-open", {"/": AIRFLOW3_ROOT, "/api/v2/version": AIRFLOW3_VERSION,
                           "/api/v2/dags": AIRFLOW3_DAGS}, AIRFLOW3_ROOT,
         ("Apache Airflow", "3.3.2"), {"airflow-api-open"})
    _add("airflow3-auth", {"/": AIRFLOW3_ROOT, "/api/v2/version": AIRFLOW3_VERSION,
                           "/api/v2/dags": AIRFLOW3_401}, AIRFLOW3_ROOT,
         ("Apache Airflow", "3.3.2"), set())
    _add("spark-rest", {"/": SPARK_REST_ROOT}, SPARK_REST_OTHER, ("Apache Spark", "4.3.0"),
         {"spark-master-open"})
    _add("grafana-anonymous", {"/": GRAFANA_APP, "/api/health": GRAFANA_HEALTH,
                               "/api/search": GRAFANA_SEARCH}, GRAFANA_APP,
         ("Grafana", "10.2.3"), {"grafana-anonymous", "admin-console"})
    _add("grafana-login", {"/": GRAFANA_LOGIN, "/api/health": GRAFANA_HEALTH,
                           "/api/search": GRAFANA_401}, GRAFANA_401, ("Grafana", "10.2.3"),
         set())
    _add("kibana-open", {"/": KIBANA_ROOT, "/api/status": KIBANA_STATUS}, KIBANA_401,
         ("Kibana", "8.11.0"), {"kibana-anonymous"})
    _add("kibana-redacted", {"/": KIBANA_ROOT, "/api/status": KIBANA_REDACTED}, KIBANA_401,
         ("Kibana", None), set())
    _add("kibana-auth", {"/": KIBANA_ROOT}, KIBANA_401, ("Kibana", None), set())
    _add("triton", {"/": TRITON_ROOT, "/v2": TRITON_V2}, TRITON_ROOT,
         ("Triton Inference Server", "2.23.0"), {"ai-triton"})
    # a server that answers every path with an empty 400: asked /v2 once, named nothing
    _add("triton-lookalike", {}, TRITON_ROOT, ("", None), set())
    _add("torchserve-inference", {"/": TS_ROOT, "/api-description": TS_API, "/ping": TS_PING},
         TS_404, ("TorchServe", "0.12.0"), {"ai-torchserve"})
    _add("torchserve-management", {"/": TS_ROOT, "/api-description": TS_API,
                                   "/models": TS_MODELS}, TS_404, ("TorchServe", "0.12.0"),
         {"ai-torchserve"})
    _add("torchserve-token", {"/": TS_ROOT, "/api-description": TS_API, "/ping": TS_TOKEN,
                              "/models": TS_TOKEN}, TS_404, ("TorchServe", "0.12.0"), set())
    return dict(PLATFORMS)
