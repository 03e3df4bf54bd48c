"""Infrastructure platforms that answer their API without authentication: service
discovery and secrets (Consul, Vault), cluster managers (kubelet, YARN, Spark),
databases and search (Neo4j, ClickHouse, Solr), schedulers and consoles (Airflow,
Grafana, Kibana). Each check reads the API document grab kept under ``http.api``."""

from __future__ import annotations

from ._base import Check

CHECKS: tuple[Check, ...] = ()
