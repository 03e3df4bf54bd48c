"""Lab daemons for the probe scheduler (grab/engine/scheduler.py): services that stay silent to
our TLS and HTTP probes on ports that belong to something else, and one that none of
our own grabbers speak.

- slapd (OpenLDAP) on a port nmap calls something else: the rootDSE and a few entries
  below its suffix readable anonymously (slapd's default access).
- a second dnsmasq answering DNS over TCP on a non-DNS port.
- an MIT Kerberos KDC on an odd port: only nmap's probes name it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Workspace, mkdir, one, write
from netatlas.lab.services import LabError, ServiceSpec
from netatlas.lab.templates import render

REALM = "LAB.NETATLAS.TEST"
KDB5_UTIL = "/usr/sbin/kdb5_util"


SUFFIX = "dc=lab,dc=netatlas,dc=test"
# The suffix and three entries: a one-level search of the suffix finds two.
LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: lab
o: netatlas lab

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: cn=alice,ou=people,{SUFFIX}
objectClass: person
cn: alice
sn: Example
"""
# Only the root DSE and the schema to anonymous clients; entries to bound users only.
ANONYMOUS_ROOTDSE_ONLY = """access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read
access to * by users read by anonymous auth"""
SLAPADD = "/usr/sbin/slapadd"


def slapd_argv(d: Path, ip: str, port: int, access: str = "") -> list[str]:
    """A slapd serving LDIF's entries from ``d`` on ip:port only (``access``: slapd.conf
    access lines; none: slapd's default, everything readable by anyone)."""
    mkdir(d, 0o700)
    conf = write(d / "slapd.conf", render("slapd.conf.in", dir=d, access=access))
    loaded = d / "data" / "lab-ldif-loaded"
    if not loaded.exists():  # a new state dir, or one from before the lab had entries
        shutil.rmtree(d / "data", ignore_errors=True)
        mkdir(d / "data", 0o700)
        ldif = write(d / "lab.ldif", LDIF, 0o600)
        proc = subprocess.run([SLAPADD, "-q", "-f", str(conf), "-l", str(ldif)],
                              capture_output=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise LabError(f"slapadd failed: {proc.stderr.decode(errors='replace')[-300:]}")
        write(loaded, "")
    # -d 0: foreground, no debug output; -h: this one address and port only
    return [BINARIES["slapd"], "-d", "0", "-f", str(conf), "-h", f"ldap://{ip}:{port}/"]


def _slapd(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    return slapd_argv(d, spec.ip, spec.port)


def dnsmasq(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """dnsmasq for the lab's and the odd-port DNS entries (a UDP entry on the same
    address and port is served by the same process)."""
    spec = one(tuple(s for s in specs if s.transport == "tcp"))
    mkdir(d, 0o755)
    # Authoritative for the lab names only: no upstream servers, no /etc/hosts, so a
    # query never leaves it; DNS only (no DHCP without a dhcp-range).
    return [BINARIES["dnsmasq"], "--keep-in-foreground", "--conf-file=/dev/null",
            f"--listen-address={spec.ip}", f"--port={spec.port}", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--no-poll", f"--pid-file={d / 'dnsmasq.pid'}",
            "--user=dnsmasq", "--log-facility=-",
            f"--address=/lab.netatlas.test/{spec.ip.rsplit('.', 1)[0]}.2"]


def _krb5kdc(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    krb5 = write(d / "krb5.conf", f"[libdefaults]\n default_realm = {REALM}\n")
    kdc = write(d / "kdc.conf", render("krb5-kdc.conf.in", ip=spec.ip, port=spec.port,
                                       realm=REALM, dir=d))
    env = [f"KRB5_CONFIG={krb5}", f"KRB5_KDC_PROFILE={kdc}"]
    if not (d / "principal").exists():
        # an empty realm; its master password is random and never used again
        proc = subprocess.run(["/usr/bin/env", *env, KDB5_UTIL, "create", "-s", "-r", REALM,
                               "-P", secrets.token_urlsafe(18)], capture_output=True,
                              timeout=30, check=False)
        if proc.returncode != 0:
            raise LabError(f"kdb5_util create failed: {proc.stderr.decode()[-300:]}")
    # env execs the KDC (same PID) with its config in the state dir; -n: foreground
    return ["/usr/bin/env", *env, BINARIES["krb5kdc"], "-n", "-r", REALM]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("slapd", "slapd", _slapd),
    Daemon("dnsmasq-odd", "dnsmasq", dnsmasq),
    Daemon("krb5kdc", "krb5kdc", _krb5kdc),
)
