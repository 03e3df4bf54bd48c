"""The relation graph: hosts joined through the artefacts they share."""

from __future__ import annotations

from netatlas.web._graph import build, host_queries


def rec(ip: str, port: int = 443, **sections: object) -> dict:
    return {"ip_str": ip, "port": port, "transport": "tcp", "service": "https", **sections}


def cert(sha: str) -> dict:
    return {"cert": {"fingerprint": {"sha256": sha}}}


def test_shared_artefacts_link_hosts() -> None:
    records = [
        rec("127.20.0.1", ssl=cert("aa")),
        rec("127.20.0.2", ssl=cert("aa")),
        rec("127.20.0.3", ssl=cert("bb")),  # unique: no node
        rec("127.20.0.3", 80, http={"favicon": {"hash": -5}}),
        rec("127.20.0.4", 80, http={"favicon": {"hash": -5}}),
        rec("127.20.0.4", 22, ssh={"fingerprint": "aa:bb"}),
        rec("127.20.0.5", 443, ssl={"jarm": "2ad2ad"}),
    ]
    g = build(records)
    ids = {n["id"] for n in g["nodes"]}
    assert ids == {"cert:aa", "favicon:-5", "host:127.20.0.1", "host:127.20.0.2",
                   "host:127.20.0.3", "host:127.20.0.4"}
    links = {(link["source"], link["target"]) for link in g["links"]}
    assert ("host:127.20.0.3", "favicon:-5") in links and len(links) == 4
    cert_node = next(n for n in g["nodes"] if n["id"] == "cert:aa")
    assert cert_node["hosts"] == 2 and cert_node["query"] == 'ssl.cert.fingerprint.sha256:"aa"'
    assert g["stats"]["hosts"] == 5 and g["stats"]["linked_hosts"] == 4
    # min_hosts=1 keeps the unshared artefacts too
    every = {n["id"]: n for n in build(records, min_hosts=1)["nodes"]}
    assert {"cert:bb", "sshkey:aa:bb", "jarm:2ad2ad"} <= every.keys()
    assert every["sshkey:aa:bb"]["query"] == 'ssh.fingerprint:"aa:bb"'
    assert every["jarm:2ad2ad"]["query"] is None  # no search field for JARM


def test_host_queries() -> None:
    qs = host_queries([rec("127.20.0.1", ssl=cert("aa")),
                       rec("127.20.0.1", 80, http={"favicon": {"hash": 7}, "html_hash": 9}),
                       rec("127.20.0.1", 8443, ssl={"jarm": "2ad"})])
    assert qs == ['ssl.cert.fingerprint.sha256:"aa"', "http.favicon.hash:7", "http.html_hash:9"]
