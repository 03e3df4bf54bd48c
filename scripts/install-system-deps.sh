#!/usr/bin/env bash
# Install the Debian packages netatlas's lab and tests need (Debian 12 bookworm).
#
# Idempotent and quick: when `dpkg-query` shows every package installed, apt is not run
# at all. Never leaves a system-wide daemon running: while installing, a policy-rc.d
# that answers 101 ("action forbidden") stops every postinst from starting its service
# (the lab starts its own copies, each bound to one 127.20.x.y address). Run as root.
#
# Never removes a package the machine has. A wanted package that conflicts with an
# installed one (vsftpd with proftpd, exim4 with postfix, chrony with systemd-timesyncd)
# is not installed: one line says which and why; the lab runs it from an unpacked copy
# where it can (chrony: UNPACKABLE below) and otherwise without that service
# (`netatlas lab up --installed`). apt itself is run with --no-remove, so it refuses
# rather than removes whatever this check did not foresee.
#
#   install-system-deps.sh [--dry-run] [PACKAGE...]
#     --dry-run   say what would be installed and what is skipped; change nothing
#     PACKAGE...  check these instead of the lists below
#   install-system-deps.sh --unpack PACKAGE...
#     unpack these as a conflicting UNPACKABLE package is (no dpkg, no apt install)
set -euo pipefail

dry_run=0
unpack_only=0
if [ "${1:-}" = --dry-run ]; then
  dry_run=1
  shift
elif [ "${1:-}" = --unpack ]; then
  unpack_only=1
  shift
fi

# Real services the lab runs on loopback (src/netatlas/lab/daemons.py). Only one FTP
# server: Debian's FTP servers conflict (ftp-server), so no proftpd or pure-ftpd here.
LAB_PACKAGES=(
  nginx-light         # http 127.20.0.2:80, https :443, http 127.20.0.12:8081
  ca-certificates     # the trust store grab/tls_verify.py judges chains against
  openssh-server      # ssh 127.20.0.3:22 and 127.20.0.13:2222 (also ssh-keygen)
  openssh-client
  redis-server        # 127.20.0.4:6379 open, 127.20.0.14:7000 with requirepass
  vsftpd              # ftp 127.20.0.5:21, anonymous read-only
  postgresql          # 127.20.0.6:5432, TLS via SSLRequest
  memcached           # 127.20.0.7:11211, TCP only
  exim4-daemon-light  # smtp 127.20.0.8:25, refuses every recipient
  apache2             # http 127.20.0.15:8008
  lighttpd            # http 127.20.0.16:80
  dovecot-pop3d       # pop3 127.20.0.18:110 and imap :143 (one dovecot)
  dovecot-imapd
  mariadb-server      # mysql 127.20.0.19:3306
  mosquitto           # mqtt 127.20.0.20:1883, anonymous
  haproxy             # http stats 127.20.0.21:8404
  squid               # http proxy 127.20.0.22:3128
  etcd-server         # etcd 127.20.0.23:2379
  prometheus          # prometheus 127.20.0.24:9090
  dnsmasq-base        # dns 127.20.0.25:53 (tcp)
  slapd               # ldap 127.20.0.35:3000 (scheduler: silent on an odd port)
  krb5-kdc            # kerberos 127.20.0.37:8888 (named by nmap's probes only)
  krb5-user           # klist -V: the krb5 release, for the lab's ground truth
  snmpd               # snmp 127.20.0.30:161/udp (public), 127.20.0.31:1161/udp
  chrony              # ntp 127.20.0.32:123/udp (ntpsec cannot bind one loopback address)
  influxdb            # 127.20.0.42:8086 open, 127.20.0.46:9086 auth; tomcat10 .43:8080
  tomcat10
  tomcat10-admin      # the Manager app: tests/assess/test_default_logins.py (tomcat/tomcat)
  rabbitmq-server     # management API guest/guest: tests/assess/test_default_logins.py
  git                 # the exposed .git of web-exposed 127.20.0.41:80
  samba               # smb 127.20.0.50:445, 127.20.0.51:4450 (strict), 127.20.0.54:139
  xrdp                # rdp 127.20.0.52:3389 (negotiation only; no sesman)
  kamailio            # sip 127.20.0.53:5060 (tcp, udp)
  nats-server         # nats 127.20.0.70:4222 without auth (lab/brokers.py)
  zookeeper           # zookeeper 127.20.0.71:2181 without auth (runs on tomcat10's JRE)
  erlang-base         # epmd (tests/grab/test_epmd.py starts it on a free port)
  rsync               # rsync daemon 127.20.0.80:10873, an open and an auth module
  xvfb                # X11 127.20.0.82:6000 open, .83:16001 cookie (lab/x11fwd.py)
  rpcbind             # tests/grab/test_portmap.py, in a network namespace of its own
  clickhouse-server   # tests/assess/test_platforms.py: with and without a password
  podman              # Docker-compatible API 127.20.0.92:12375 without auth (lab/platforms.py)
  python3-gi          # rtsp 127.20.0.75:554 open, .76:10554 Basic auth (lab/rtspd.py)
  gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base   # videotestsrc
  gstreamer1.0-plugins-good   # rtpvrawpay
  openssl
)
# Tools the scanner and the tests use.
TOOL_PACKAGES=(
  nmap        # optional discover driver and nmap-service-probes for identify
  zmap        # bench/discover.py --syn: netatlas --syn beside zmap on loopback
  ndiff       # reads netatlas's nmap XML export in tests/interop
  libxml2-utils  # xmllint: the nmap XML export checked against nmap.dtd
  wrk         # the load generator of bench/api_load.py
  iproute2    # ss
  python3-venv
)
# Headless browser for UI screenshots/tests: add it here (e.g. chromium).
BROWSER_PACKAGES=(chromium)

PACKAGES=("${LAB_PACKAGES[@]}" "${TOOL_PACKAGES[@]}" "${BROWSER_PACKAGES[@]}")
if [ $# -gt 0 ]; then
  PACKAGES=("$@")
fi
APT_INSTALL=(apt-get install -y -q --no-install-recommends --no-remove
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Packages the lab can run from an unpacked copy (the .deb's files under $UNPACKED,
# nothing registered with dpkg; src/netatlas/lab/daemon.py looks there) when installing
# them would remove a package the machine has, with the system user their postinst would
# add. chrony: Debian's systemd-timesyncd conflicts with every other time daemon.
declare -A UNPACKABLE=([chrony]=_chrony)
UNPACKED=${NETATLAS_LAB_UNPACKED:-/opt/netatlas-lab/unpacked}

unpacked() { [ -e "$UNPACKED/.netatlas-unpacked/$1" ]; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || unpacked "$pkg" || missing+=("$pkg")
done
to_unpack=()

if [ ${#missing[@]} -eq 0 ] && [ "$unpack_only" = 0 ]; then
  if [ "$dry_run" = 1 ]; then echo "install-system-deps: nothing to install" >&2; fi
  exit 0
fi

# What installing would remove, as apt's simulation says it ("Remv NAME [version]").
# Nothing when apt cannot say (no lists yet, an unknown name): the install then fails
# on its own, and --no-remove still holds.
removals() {
  { apt-get install -s -q --no-install-recommends "$@" 2>/dev/null || true; } \
    | awk '$1 == "Remv" {print $2}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# Keep what the machine has: a package whose install would remove another is skipped,
# each said in one line. Asked one by one only when the whole set would remove something.
keep_what_is_installed() {
  if [ -z "$(removals "${missing[@]}")" ]; then
    return
  fi
  local pkg gone dep kept=()
  for pkg in "${missing[@]}"; do
    gone=$(removals "$pkg")
    if [ -z "$gone" ]; then
      kept+=("$pkg")
    elif [ -n "${UNPACKABLE[$pkg]+set}" ]; then
      echo "install-system-deps: not installing $pkg: apt would remove $gone for it," \
        "which the machine keeps; $pkg is unpacked into $UNPACKED instead" >&2
      to_unpack+=("$pkg")
      # what it needs that the machine lacks is installed as usual (checked like the rest)
      for dep in $({ apt-get install -s -q --no-install-recommends "$pkg" 2>/dev/null \
                     || true; } | awk -v p="$pkg" '$1 == "Inst" && $2 != p {print $2}'); do
        [ -n "$(removals "$dep")" ] || kept+=("$dep")
      done
    else
      echo "install-system-deps: not installing $pkg: apt would remove $gone for it," \
        "which the machine keeps (the lab runs without what needs $pkg)" >&2
    fi
  done
  missing=("${kept[@]}")
  if [ ${#missing[@]} -gt 0 ] && [ -n "$(removals "${missing[@]}")" ]; then
    # each alone is fine, together they conflict: leave the choice to the user
    echo "install-system-deps: together these would remove $(removals "${missing[@]}"):" \
      "${missing[*]}; install them by hand" >&2
    exit 1
  fi
}

# PKG's .deb extracted under $UNPACKED (dpkg-deb -x: no maintainer script runs, dpkg
# records nothing), plus the system user the lab runs it as.
unpack() {
  local pkg=$1 user=${UNPACKABLE[$1]:-} tmp
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true  # apt downloads as _apt where it can
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
  mkdir -p "$UNPACKED/.netatlas-unpacked"
  dpkg-deb -x "$tmp"/*.deb "$UNPACKED"
  rm -rf "$tmp"
  if [ -n "$user" ] && ! getent passwd "$user" >/dev/null; then
    adduser --system --group --no-create-home --home /nonexistent --quiet "$user"
  fi
  touch "$UNPACKED/.netatlas-unpacked/$pkg"
}

if [ "$unpack_only" = 1 ]; then
  for pkg in "$@"; do
    unpack "$pkg"
    echo "install-system-deps: $pkg unpacked into $UNPACKED" >&2
  done
  exit 0
fi

if [ "$dry_run" = 1 ]; then
  keep_what_is_installed
  for pkg in "${to_unpack[@]}"; do
    echo "install-system-deps: would unpack $pkg into $UNPACKED" >&2
  done
  echo "install-system-deps: would run: ${APT_INSTALL[*]} ${missing[*]}" >&2
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

# Checked against the package lists the machine has (so a package skipped for a
# conflict costs no `apt-get update` on every run), then again against fresh ones.
# The second check starts from the same list: the first left out what it will unpack.
wanted=("${missing[@]}")
keep_what_is_installed
if [ ${#missing[@]} -eq 0 ] && [ ${#to_unpack[@]} -eq 0 ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
to_unpack=()
missing=("${wanted[@]}")
keep_what_is_installed
for pkg in "${to_unpack[@]}"; do
  unpack "$pkg"
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}" >&2

# Forbid service starts during the install, unless a policy is already in place (as in
# Debian container images); ours is removed afterwards, an existing one is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# netatlas install-system-deps: no service starts during install\nexit 101\n' \
    > "$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Daemons listening on every address before we start: anything new afterwards is ours.
wildcard_listeners() {
  ss -Hltnup 2>/dev/null \
    | awk '$5 ~ /^(0\.0\.0\.0|\*|\[::\]):/ {print $5, $7}' | sort || true
}
before=$(wildcard_listeners)

"${APT_INSTALL[@]}" "${missing[@]}"

after=$(wildcard_listeners)
new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
if [ -n "$new" ]; then
  # A postinst started a daemon despite policy-rc.d: stop just that one through its
  # own init script (which uses its PID file), then refuse to go on if it is still there.
  declare -A init_script=([nginx]=nginx [sshd]=ssh [redis-server]=redis-server
    [vsftpd]=vsftpd [postgres]=postgresql [memcached]=memcached [exim4]=exim4
    [apache2]=apache2 [lighttpd]=lighttpd [dovecot]=dovecot
    [mariadbd]=mariadb [mosquitto]=mosquitto [haproxy]=haproxy [squid]=squid
    [smbd]=smbd [nmbd]=nmbd [xrdp]=xrdp [xrdp-sesman]=xrdp [kamailio]=kamailio
    [snmpd]=snmpd [chronyd]=chrony
    [etcd]=etcd [prometheus]=prometheus [epmd]=epmd [nats-server]=nats-server
    [rpcbind]=rpcbind [clickhouse-server]=clickhouse-server)
  for proc in $(grep -o '(("[^"]*"' <<<"$new" | tr -d '("' | sort -u); do
    svc=${init_script[$proc]:-}
    if [ -n "$svc" ] && [ -x "/etc/init.d/$svc" ]; then
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  done
  still=$(comm -13 <(printf '%s\n' "$before") <(wildcard_listeners) | sed '/^$/d')
  if [ -n "$still" ]; then
    echo "install-system-deps: these now listen on every address; stop them:" >&2
    echo "$still" >&2
    exit 1
  fi
fi
echo "install-system-deps: done" >&2
