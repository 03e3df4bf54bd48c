"""How each lab daemon is configured and launched.

Every daemon runs in the foreground (so the PID we record is the daemon itself), reads
a config rendered into its own folder of the state dir, and binds only the addresses of
its catalogue entries. Nothing here touches system config. Families of daemons with
more than a few lines of setup live in their own module and are joined in DAEMONS.
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from netatlas.lab import (
    apps,
    brokers,
    directory,
    ics,
    media,
    pipelines,
    platforms,
    sharing,
    tls_sites,
    udp,
    windows,
)
from netatlas.lab.certs import write_private
from netatlas.lab.daemon import (
    BINARIES,
    FTP_PASV,
    MARIADB_INSTALL_DB,
    PG_BIN,
    SSH_KEYGEN,
    Daemon,
    Workspace,
    by_name,
    copy_tls,
    ids,
    mkdir,
    one,
    write,
)
from netatlas.lab.services import CATALOGUE, LabError, ServiceSpec
from netatlas.lab.site import write_sites
from netatlas.lab.templates import render

# -- one prepare function per kind ---------------------------------------------------------

def _nginx(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    tmp = mkdir(d / "tmp", 0o700, "www-data")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        mkdir(tmp / sub, 0o700, "www-data")
    write_sites(d / "www")
    http, https = by_name(specs, "nginx-http"), by_name(specs, "nginx-https")
    alt = by_name(specs, "nginx-alt")
    conf = write(d / "nginx.conf", render(
        "nginx.conf.in", dir=d, cert=ws.cert, key=ws.key,
        http_ip=http.ip, http_port=http.port, https_ip=https.ip, https_port=https.port,
        alt_ip=alt.ip, alt_port=alt.port))
    # -e: the error log before the config is read (else nginx tries /var/log/nginx).
    return [BINARIES["nginx"], "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)]


def _sshd(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(Path("/run/sshd"), 0o755)  # sshd's privilege-separation chroot
    mkdir(d, 0o700)
    for kind in ("ed25519", "ecdsa", "rsa"):
        key = d / f"ssh_host_{kind}_key"
        if not key.exists():
            subprocess.run([SSH_KEYGEN, "-q", "-N", "", "-t", kind, "-C", f"lab-{spec.name}",
                            "-f", str(key)], check=True, capture_output=True, timeout=60)
    password = "yes" if "password-auth" in spec.tags else "no"
    conf = write(d / "sshd_config", render("sshd_config.conf.in", dir=d, ip=spec.ip,
                                            port=spec.port, password_auth=password), 0o600)
    return [BINARIES["sshd"], "-D", "-e", "-f", str(conf)]


def _redis(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    requirepass = ""
    if "auth-required" in spec.tags:
        pw_file = d / "password"
        if not pw_file.exists():
            write_private(pw_file, secrets.token_hex(16).encode())
        requirepass = f"requirepass {pw_file.read_text().strip()}"
    conf = write(d / "redis.conf", render("redis.conf.in", dir=d, ip=spec.ip, port=spec.port,
                                           requirepass=requirepass), 0o600)
    return [BINARIES["redis"], str(conf)]


def _vsftpd(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    # Both roots belong to root and are not writable: vsftpd refuses a writable chroot,
    # and anonymous users must not be able to upload anything.
    mkdir(d / "anon", 0o555)
    mkdir(d / "empty", 0o555)
    conf = write(d / "vsftpd.conf", render("vsftpd.conf.in", dir=d, ip=spec.ip,
                                            port=spec.port, pasv_min=FTP_PASV[0],
                                            pasv_max=FTP_PASV[1]), 0o600)
    return [BINARIES["vsftpd"], str(conf)]


def _postgres(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    uid, gid = ids("postgres")
    mkdir(d, 0o755, "postgres")
    data = d / "data"
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)  # a half-made cluster from an interrupted initdb
        proc = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--no-locale",
             "-E", "UTF8", "--auth-local=peer", "--auth-host=scram-sha-256"],
            user=uid, group=gid, extra_groups=[], cwd=d, capture_output=True, timeout=120,
            check=False, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        if proc.returncode != 0:
            raise LabError(f"postgresql: initdb failed: {proc.stderr.decode(errors='replace')}")
    copy_tls(ws, d, "postgres")
    lab_conf = write(d / "lab.conf", render("postgresql.conf.in", dir=d, ip=spec.ip,
                                             port=spec.port))
    main_conf = data / "postgresql.conf"
    include = f"include '{lab_conf}'\n"
    if include not in main_conf.read_text():
        with main_conf.open("a") as f:
            f.write("\n# netatlas lab settings (last, so they win)\n" + include)
    return [BINARIES["postgres"], "-D", str(data)]


def _memcached(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    # -U 0: no UDP (an amplification vector, and it would bind more than we list);
    # -u nobody: memcached refuses to run as root.
    return [BINARIES["memcached"], "-l", spec.ip, "-p", str(spec.port), "-U", "0",
            "-u", "nobody", "-m", "32", "-c", "256"]


_EXIM_VRFY_ACLS = "acl_smtp_vrfy = accept\nacl_smtp_expn = accept"
# postmaster -> root, and local users verify: VRFY/EXPN answer 250. Delivery would go to
# /dev/null, but RCPT is refused by the ACL, so nothing is ever accepted.
_EXIM_ROUTERS = """system_aliases:
  driver = redirect
  data = ${if eq{$local_part}{postmaster}{root}{}}

local_user:
  driver = accept
  check_local_user
  transport = nowhere
"""
_EXIM_TRANSPORTS = """nowhere:
  driver = appendfile
  file = /dev/null
"""


def _exim(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    mkdir(d / "spool", 0o750, "Debian-exim")
    mkdir(d / "log", 0o750, "Debian-exim")
    copy_tls(ws, d, "Debian-exim")
    vrfy = "vrfy" in spec.tags
    # exim accepts a -C config only if it is owned by root and not writable by others.
    conf = write(d / "exim.conf", render(
        "exim.conf.in", dir=d, ip=spec.ip, port=spec.port,
        vrfy_acls=_EXIM_VRFY_ACLS if vrfy else "",
        routers=_EXIM_ROUTERS if vrfy else "", transports=_EXIM_TRANSPORTS if vrfy else ""))
    return [BINARIES["exim"], "-C", str(conf), "-bdf"]


def _static_site(www: Path, title: str) -> None:
    mkdir(www, 0o755)
    (www / "index.html").write_text(
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1></body></html>\n")


def _apache(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    mkdir(d / "run", 0o755)
    _static_site(d / "www", "Apache lab")
    conf = write(d / "apache2.conf", render("apache2.conf.in", dir=d, ip=spec.ip,
                                             port=spec.port))
    return [BINARIES["apache2"], "-d", str(d), "-f", str(conf), "-DFOREGROUND"]


def _lighttpd(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    _static_site(d / "www", "lighttpd lab")
    conf = write(d / "lighttpd.conf", render("lighttpd.conf.in", dir=d, ip=spec.ip,
                                              port=spec.port))
    return [BINARIES["lighttpd"], "-D", "-f", str(conf)]


def _dovecot(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    pop3, imap = by_name(specs, "pop3"), by_name(specs, "imap")
    assert pop3.ip == imap.ip, specs
    mkdir(d, 0o755)
    mkdir(d / "run", 0o755)
    mkdir(d / "state", 0o750)
    write(d / "users", "", 0o640)  # no user at all: every login fails
    conf = write(d / "dovecot.conf", render("dovecot.conf.in", dir=d, ip=pop3.ip,
                                             pop_port=pop3.port, imap_port=imap.port))
    return [BINARIES["dovecot"], "-F", "-c", str(conf)]


def _dovecot_tls(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """Dovecot offering STARTTLS / STLS: plaintext login allowed before it on one
    address, refused (LOGINDISABLED) on the other."""
    pop3, imap = by_name(specs, "pop3-starttls"), by_name(specs, "imap-starttls")
    strict = by_name(specs, "imap-strict")
    assert pop3.ip == imap.ip, specs
    mkdir(d, 0o755)
    mkdir(d / "run", 0o755)
    mkdir(d / "state", 0o750)
    write(d / "users", "", 0o640)  # no user at all: every login fails
    conf = write(d / "dovecot.conf", render(
        "dovecot-tls.conf.in", dir=d, ip=imap.ip, pop_port=pop3.port, imap_port=imap.port,
        strict_ip=strict.ip, strict_port=strict.port, cert=ws.cert, key=ws.key))
    return [BINARIES["dovecot"], "-F", "-c", str(conf)]


def _mariadb(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755, "mysql")
    data = d / "data"
    if not (data / "mysql").is_dir():
        if data.exists():
            shutil.rmtree(data)  # a half-made datadir from an interrupted install
        proc = subprocess.run(
            [MARIADB_INSTALL_DB, "--no-defaults", "--user=mysql", f"--datadir={data}",
             "--auth-root-authentication-method=socket", "--skip-test-db",
             "--skip-name-resolve"],
            cwd=d, capture_output=True, timeout=120, check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C"})
        if proc.returncode != 0:
            raise LabError("mariadb: mariadb-install-db failed: "
                           + (proc.stdout + proc.stderr).decode(errors="replace")[-2000:])
        # Without an account for remote hosts, MariaDB answers "Host ... is not allowed"
        # instead of its handshake. A locked account whose hash matches no password makes
        # it greet every client, as a server that serves the network does; nobody can log
        # in. (Bootstrap mode has no grant tables loaded, so no CREATE USER: a row.)
        sql = ("INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('%', 'lab', "
               "'{\"access\":0,\"plugin\":\"mysql_native_password\","
               "\"authentication_string\":\"!locked\",\"account_locked\":true}');\n")
        proc = subprocess.run(
            [BINARIES["mariadb"], "--no-defaults", "--bootstrap", "--user=mysql",
             f"--datadir={data}", "--skip-networking", "--skip-log-bin"],
            input=sql.encode(), cwd=d, capture_output=True, timeout=120, check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C"})
        if proc.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise LabError("mariadb: bootstrap failed: "
                           + (proc.stdout + proc.stderr).decode(errors="replace")[-2000:])
    return [BINARIES["mariadb"], "--no-defaults", f"--datadir={data}",
            f"--socket={d / 'mysqld.sock'}", f"--pid-file={d / 'mysqld.pid'}",
            f"--bind-address={spec.ip}", f"--port={spec.port}", "--skip-name-resolve",
            "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--max-connections=50"]


def _mosquitto(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    conf = write(d / "mosquitto.conf", render("mosquitto.conf.in", dir=d, ip=spec.ip,
                                               port=spec.port))
    return [BINARIES["mosquitto"], "-c", str(conf)]


def _haproxy(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    conf = write(d / "haproxy.cfg", render("haproxy.conf.in", ip=spec.ip, port=spec.port))
    return [BINARIES["haproxy"], "-db", "-f", str(conf)]  # -db: foreground, no daemon


def _squid(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755, "proxy")
    # the lab's dnsmasq, in this lab's net (the catalogue may have been moved)
    octet = next(s.ip for s in CATALOGUE if s.daemon == "dnsmasq").rsplit(".", 1)[1]
    dns = f"{spec.ip.rsplit('.', 1)[0]}.{octet}"
    access = "http_access deny all"
    if "open-proxy" in spec.tags:
        net = spec.ip.rsplit(".", 1)[0] + ".0/24"
        access = f"acl lab_net dst {net}\nhttp_access allow lab_net\n{access}"
    conf = write(d / "squid.conf", render("squid.conf.in", dir=d, ip=spec.ip,
                                           port=spec.port, dns=dns, access=access))
    # -N: foreground, one process; -n: this instance's name (pid and shared memory)
    return [BINARIES["squid"], "-N", "-n", spec.name.replace("-", ""), "-f", str(conf)]


def _etcd(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755, "etcd")
    client, peer = f"http://{spec.ip}:{spec.port}", f"http://{spec.ip}:{spec.port + 1}"
    return [BINARIES["etcd"], "--name", "lab", "--data-dir", str(d / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"lab={peer}", "--initial-cluster-state", "new"]


def _prometheus(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755, "prometheus")
    conf = write(d / "prometheus.yml", render("prometheus.conf.in"))
    return [BINARIES["prometheus"], f"--config.file={conf}",
            f"--storage.tsdb.path={d / 'data'}", f"--web.listen-address={spec.ip}:{spec.port}"]


def _jupyter(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    mkdir(d / "root", 0o700)
    token_file = d / "token"
    if not token_file.exists():
        write_private(token_file, secrets.token_hex(24).encode())
    # env execs the server (same PID) with HOME and Jupyter's dirs inside the state dir.
    return ["/usr/bin/env", f"HOME={d}", f"JUPYTER_RUNTIME_DIR={d / 'runtime'}",
            f"JUPYTER_CONFIG_DIR={d / 'config'}", f"JUPYTER_DATA_DIR={d / 'data'}",
            BINARIES["jupyter"], f"--ServerApp.ip={spec.ip}", f"--ServerApp.port={spec.port}",
            "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
            f"--IdentityProvider.token={token_file.read_text().strip()}",
            f"--ServerApp.root_dir={d / 'root'}", "--allow-root"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("nginx", "nginx", _nginx),
    Daemon("ssh", "sshd", _sshd),
    Daemon("ssh-alt", "sshd", _sshd),
    Daemon("redis", "redis", _redis),
    Daemon("redis-auth", "redis", _redis),
    Daemon("ftp", "vsftpd", _vsftpd),
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for clients to leave.
    Daemon("postgresql", "postgres", _postgres, user="postgres", stop_signal=signal.SIGINT,
           ready_timeout=60.0),
    Daemon("memcached", "memcached", _memcached),
    Daemon("smtp", "exim", _exim),
    Daemon("smtp-vrfy", "exim", _exim),
    Daemon("apache", "apache2", _apache),
    Daemon("lighttpd", "lighttpd", _lighttpd),
    Daemon("dovecot", "dovecot", _dovecot),
    Daemon("dovecot-tls", "dovecot", _dovecot_tls),
    Daemon("mariadb", "mariadb", _mariadb, user="mysql", ready_timeout=60.0),
    Daemon("mosquitto", "mosquitto", _mosquitto),
    Daemon("haproxy", "haproxy", _haproxy),
    Daemon("squid", "squid", _squid),
    Daemon("squid-open", "squid", _squid),
    Daemon("etcd", "etcd", _etcd, user="etcd"),
    Daemon("prometheus", "prometheus", _prometheus, user="prometheus"),
    Daemon("dnsmasq", "dnsmasq", directory.dnsmasq),
    Daemon("ssh-odd", "sshd", _sshd),
    Daemon("redis-odd", "redis", _redis),
    Daemon("memcached-odd", "memcached", _memcached),
    Daemon("jupyter", "jupyter", _jupyter, ready_path="/api/status"),
    *apps.DAEMONS,
    *brokers.DAEMONS,
    *media.DAEMONS,
    *directory.DAEMONS,
    *ics.DAEMONS,
    *tls_sites.DAEMONS,
    *udp.DAEMONS,
    *windows.DAEMONS,
    *sharing.DAEMONS,
    *platforms.DAEMONS,
    *pipelines.DAEMONS,
)

DAEMON_BY_NAME = {d.name: d for d in DAEMONS}


def _check() -> None:
    names = {d.name for d in DAEMONS}
    for spec in CATALOGUE:
        assert spec.daemon in names, spec
    assert all(re.fullmatch(r"[a-z0-9-]+", n) for n in names)


_check()
