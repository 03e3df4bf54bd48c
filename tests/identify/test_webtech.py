"""Without Wappalyzer data, http.technologies comes from our own rules: the application
(the product) and the web server under it are both kept."""

from __future__ import annotations

from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult

TENSORBOARD = {
    "status": 200, "server": "Werkzeug/3.1.9 Python/3.11.7", "title": "TensorBoard",
    "headers": {"server": "Werkzeug/3.1.9 Python/3.11.7"}, "html": "<title>TensorBoard",
    "api": {"tensorboard_env": '{"version": "2.21.0", "data_location": "/srv/logs"}'},
}


def test_product_is_the_application_and_technologies_keep_the_server() -> None:
    ident = Identifier(nmap=None, fingerprints=None)
    ep = Endpoint("127.20.0.44", 7007)
    got = ident.identify(GrabResult(service="http", sections={"http": TENSORBOARD}), ep)
    assert (got.product, got.version) == ("TensorBoard", "2.21.0")
    techs = ident.technologies(TENSORBOARD)
    assert [(t["name"], t["version"]) for t in techs] == [("TensorBoard", "2.21.0"),
                                                         ("Werkzeug", "3.1.9")]
    assert techs[1]["cpe"] == "cpe:/a:palletsprojects:werkzeug:3.1.9"


def test_plain_server_and_empty_section() -> None:
    ident = Identifier(nmap=None, fingerprints=None)
    nginx = {"server": "nginx/1.22.1", "headers": {"server": "nginx/1.22.1"}, "html": ""}
    assert [t["name"] for t in ident.technologies(nginx)] == ["nginx"]
    assert ident.technologies({}) == [] and ident.technologies(None) == []


def test_application_ranks_first_whichever_rule_gave_its_version() -> None:
    # Jupyter: the CSP rule (priority 1) names it, the /api rule (priority -1) its version
    jupyter = {"server": "TornadoServer/6.6.1", "title": "Jupyter Server", "html": "",
               "headers": {"server": "TornadoServer/6.6.1", "content-security-policy":
                           "frame-ancestors 'self'; report-uri /api/security/csp-report"},
               "api": {"api": '{"version": "2.21.1"}'}}
    techs = Identifier(nmap=None, fingerprints=None).technologies(jupyter)
    assert [(t["name"], t["version"]) for t in techs] == [("Jupyter Server", "2.21.1"),
                                                         ("Tornado", "6.6.1")]
