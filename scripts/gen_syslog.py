#!/usr/bin/env python3
"""Generates a synthetic syslog stream from a few Linux hosts, as a central
collector stores it: RFC 3164 (BSD) lines from two web servers, RFC 5424 lines
from a bastion, a database server and an application server, in time order.

The bundled sample (config/samples/syslog.log) is made with the defaults:
    scripts/gen_syslog.py
Four hours of background (sshd logins and internet noise, sudo, cron, systemd,
kernel firewall drops, application events with structured data) and a story:
an SSH brute force on web01 from one address against many users, a port scan,
then from the same address a smaller burst on the bastion, a login that works,
`sudo -u root /bin/bash`, and a new user added to the sudo group.

A second file (--truth) gives each line's fields as the generator wrote them
(not re-parsed): 0-based line, format, timestamp (RFC 3339, UTC, as many
fraction digits as the line has), hostname, app name, pid, msgid, structured
data as JSON {sd-id: {param: value}} (5424 only; {} for the NILVALUE), PRI,
message (without the BOM) and scenario (which part of the story, or empty).
RFC 3164 lines carry neither year nor zone: they are local time at UTC+01:00
(CET) in 2026 (YEAR, TZ3164). Deterministic for a given --seed. Standard
library only.
"""
import argparse
import csv
import datetime as dt
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

YEAR = 2026
TZ3164 = dt.timezone(dt.timedelta(hours=1))      # the web servers' local time (CET)
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 30, 21, 30, 0, tzinfo=UTC).timestamp()   # 22:30 CET
SPAN = 4 * 3600.0                                                   # to 02:30 CET on 1 Dec
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# facility * 8 + severity
KERN, USER, DAEMON, AUTH, CRON, AUTHPRIV, LOCAL4 = 0, 1, 3, 4, 9, 10, 20
ALERT, ERR, WARNING, NOTICE, INFO = 1, 3, 4, 5, 6

# Hosts: format, how 5424 timestamps are written (offset, fraction digits), addresses, boot time.
HOSTS = {
    "web01": {"format": "rfc3164", "public": "192.0.2.10", "ip": "10.0.1.11", "mac": "52:54:00:3a:11:0b"},
    "web02": {"format": "rfc3164", "public": "192.0.2.11", "ip": "10.0.1.12", "mac": "52:54:00:3a:11:0c"},
    "bastion01.example.net": {"format": "rfc5424", "offset": 60, "digits": 6, "public": "192.0.2.20",
                              "ip": "10.0.0.5", "mac": "52:54:00:7e:00:05"},
    "db01.example.net": {"format": "rfc5424", "offset": 0, "digits": 3, "ip": "10.0.2.21"},
    "app01.example.net": {"format": "rfc5424", "offset": -300, "digits": 3, "ip": "10.0.3.31"},
}
ADMINS = {"alice": (1001, "10.0.8.21"), "bob": (1002, "10.0.8.34"), "deploy": (1003, "10.0.9.5")}
ATTACKER = "203.0.113.45"
SCANNER = "198.51.100.77"
NOISE = ["198.51.100.%d" % i for i in (12, 23, 41, 66, 90, 131, 177, 203, 240)] + \
        ["203.0.113.%d" % i for i in (8, 19, 77, 102, 150, 211)]
BRUTE_USERS = ["admin", "root", "test", "user", "oracle", "postgres", "ubuntu", "guest", "ftpuser", "git", "pi",
               "support", "administrator", "mysql", "jenkins", "hadoop", "ansible", "nagios", "tomcat", "www",
               "deploy", "dev", "backup", "minecraft", "teamspeak", "steam", "ubnt", "operator", "elastic",
               "kafka", "redis", "sysadmin", "web", "docker", "vagrant", "es", "zabbix", "ts3", "odoo", "student"]
REAL_USERS = {"root", "deploy", "backup", "www"}       # exist on the hosts: no "invalid user"


class Rec:
    """One syslog message, before rendering."""

    def __init__(self, t, host, app, pid, fac, sev, msg, msgid=None, sd=None, scenario="", bom=False):
        self.t, self.host, self.app, self.pid, self.msg = t, host, app, pid, msg
        self.pri = fac * 8 + sev
        self.msgid, self.sd, self.scenario, self.bom = msgid, sd, scenario, bom
        self.nil_time = self.nil_host = False


def esc(value):
    """An SD-PARAM value as RFC 5424 6.3.3 wants it: \\ " and ] escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.recs = []
        self.pids = {h: rng.randint(20000, 90000) for h in HOSTS}
        self.sessions = {h: rng.randint(200, 900) for h in HOSTS}
        self.boot = {h: T0 - rng.uniform(3, 40) * 86400 for h in HOSTS}

    def pid(self, host):
        self.pids[host] += self.rng.randint(1, 40)
        return self.pids[host]

    def add(self, *a, **k):
        r = Rec(*a, **k)
        self.recs.append(r)
        return r

    def port(self):
        return self.rng.randint(32768, 60999)

    # --- sshd ---------------------------------------------------------------
    def admin_session(self, t, host, user, sudo_cmds):
        uid, src = ADMINS[user]
        rng = self.rng
        pid = self.pid(host)
        sess = self.sessions[host] = self.sessions[host] + 1
        port = self.port()
        fp = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
        self.add(t, host, "sshd", pid, AUTH, INFO, f"Accepted publickey for {user} from {src} port {port} ssh2: ED25519 SHA256:{fp}")
        self.add(t + 0.004, host, "sshd", pid, AUTHPRIV, INFO, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)")
        self.add(t + 0.011, host, "systemd-logind", 612, AUTHPRIV, INFO, f"New session {sess} of user {user}.")
        self.add(t + 0.019, host, "systemd", 1, DAEMON, INFO, f"Started session-{sess}.scope - Session {sess} of User {user}.")
        tt = t + rng.uniform(20, 90)
        for cmd, pwd in sudo_cmds:
            self.sudo(tt, host, user, uid, cmd, pwd, f"pts/{sess % 4}")
            tt += rng.uniform(15, 200)
        end = tt + rng.uniform(30, 600)
        self.add(end, host, "sshd", pid, AUTH, INFO, f"Received disconnect from {src} port {port}:11: disconnected by user")
        self.add(end + 0.001, host, "sshd", pid, AUTH, INFO, f"Disconnected from user {user} {src} port {port}")
        self.add(end + 0.002, host, "sshd", pid, AUTHPRIV, INFO, f"pam_unix(sshd:session): session closed for user {user}")
        self.add(end + 0.006, host, "systemd-logind", 612, AUTHPRIV, INFO, f"Session {sess} logged out. Waiting for processes to exit.")
        self.add(end + 0.015, host, "systemd", 1, DAEMON, INFO, f"session-{sess}.scope: Deactivated successfully.")
        self.add(end + 0.021, host, "systemd-logind", 612, AUTHPRIV, INFO, f"Removed session {sess}.")

    def sudo(self, t, host, user, uid, cmd, pwd, tty, scenario=""):
        rng = self.rng
        fields = f"TTY={tty} ; PWD={pwd} ; USER=root ; COMMAND={cmd}"
        rfc5424 = HOSTS[host]["format"] == "rfc5424"
        pid = self.pid(host) if rfc5424 else None    # the web servers' sudo logs without a pid
        sd = None
        if rfc5424:
            sd = [("sudo@32473", [("user", user), ("runas", "root"), ("tty", tty), ("pwd", pwd), ("command", cmd)])]
        self.add(t, host, "sudo", pid, AUTHPRIV, NOTICE, f"{user:>8} : {fields}", sd=sd, scenario=scenario)
        self.add(t + 0.002, host, "sudo", pid, AUTHPRIV, INFO,
                 f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})", scenario=scenario)
        if cmd != "/bin/bash":
            self.add(t + rng.uniform(0.05, 8), host, "sudo", pid, AUTHPRIV, INFO,
                     "pam_unix(sudo:session): session closed for user root")

    def noise(self, t, host):
        """Internet background against an exposed sshd."""
        rng = self.rng
        src, port, pid = rng.choice(NOISE), self.port(), self.pid(host)
        kind = rng.random()
        if kind < 0.35:
            self.add(t, host, "sshd", pid, AUTH, INFO, f"Connection closed by {src} port {port} [preauth]")
        elif kind < 0.55:
            self.add(t, host, "sshd", pid, AUTH, INFO, f"Received disconnect from {src} port {port}:11: Bye Bye [preauth]")
            self.add(t + 0.001, host, "sshd", pid, AUTH, INFO, f"Disconnected from authenticating user root {src} port {port} [preauth]")
        elif kind < 0.75:
            u = rng.choice(["test", "admin", "user1", "ubuntu", "oracle"])
            self.add(t, host, "sshd", pid, AUTH, INFO, f"Invalid user {u} from {src} port {port}")
            self.add(t + rng.uniform(0.5, 2), host, "sshd", pid, AUTH, INFO, f"Connection closed by invalid user {u} {src} port {port} [preauth]")
        elif kind < 0.9:
            self.add(t, host, "sshd", pid, AUTH, INFO, "error: kex_exchange_identification: Connection closed by remote host")
            self.add(t + 0.0005, host, "sshd", pid, AUTH, INFO, f"Connection closed by {src} port {port}")
        else:
            self.add(t, host, "sshd", pid, AUTH, INFO, f"banner exchange: Connection from {src} port {port}: invalid format")

    def attempt(self, t, host, user, port, scenario, src=ATTACKER):
        """One password guess, as OpenSSH with PAM logs it."""
        pid = self.pid(host)
        invalid = user not in REAL_USERS
        if invalid:
            self.add(t, host, "sshd", pid, AUTH, INFO, f"Invalid user {user} from {src} port {port}", scenario=scenario)
            self.add(t + 0.9, host, "sshd", pid, AUTHPRIV, NOTICE, "pam_unix(sshd:auth): check pass; user unknown", scenario=scenario)
            self.add(t + 0.9001, host, "sshd", pid, AUTHPRIV, NOTICE,
                     f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={src}",
                     scenario=scenario)
        else:
            self.add(t + 0.9, host, "sshd", pid, AUTHPRIV, NOTICE,
                     f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={src}  user={user}",
                     scenario=scenario)
        who = f"invalid user {user}" if invalid else user
        self.add(t + 2.7, host, "sshd", pid, AUTH, INFO, f"Failed password for {who} from {src} port {port} ssh2", scenario=scenario)
        self.add(t + 3.1, host, "sshd", pid, AUTH, INFO,
                 f"Connection closed by {'invalid user ' if invalid else 'authenticating user '}{user} {src} port {port} [preauth]",
                 scenario=scenario)

    # --- kernel -------------------------------------------------------------
    def drop(self, t, host, src, dport, proto="TCP", scenario=""):
        rng = self.rng
        h = HOSTS[host]
        up = t - self.boot[host]
        peer = "00:1b:21:%02x:%02x:%02x" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        head = f"IN=eth0 OUT= MAC={h['mac']}:{peer}:08:00 SRC={src} DST={h['public']}"
        if proto == "TCP":
            tail = (f"LEN=44 TOS=0x00 PREC=0x00 TTL={rng.randint(230, 250)} ID={rng.randint(1, 65535)} PROTO=TCP "
                    f"SPT={self.port()} DPT={dport} WINDOW=1024 RES=0x00 SYN URGP=0")
        else:
            tail = (f"LEN=58 TOS=0x00 PREC=0x00 TTL={rng.randint(40, 120)} ID={rng.randint(1, 65535)} PROTO=UDP "
                    f"SPT={self.port()} DPT={dport} LEN=38")
        prefix = "[UFW BLOCK]" if h["format"] == "rfc3164" else "IPTABLES-DROP:"
        self.add(t, host, "kernel", None, KERN, WARNING, f"[{up:12.6f}] {prefix} {head} {tail}", scenario=scenario)

    # --- cron and systemd ---------------------------------------------------
    def cron(self, t, host, user, cmd):
        pid = self.pid(host)
        uid = 0 if user == "root" else 113
        self.add(t, host, "CRON", pid, AUTHPRIV, INFO,
                 f"pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)")
        self.add(t + 0.003, host, "CRON", pid, CRON, INFO, f"({user}) CMD ({cmd})")
        self.add(t + self.rng.uniform(0.05, 2.5), host, "CRON", pid, AUTHPRIV, INFO,
                 f"pam_unix(cron:session): session closed for user {user}")

    def unit(self, t, host, name, desc, took=1.0):
        self.add(t, host, "systemd", 1, DAEMON, INFO, f"Starting {name} - {desc}...")
        self.add(t + took, host, "systemd", 1, DAEMON, INFO, f"{name}: Deactivated successfully.")
        self.add(t + took + 0.0004, host, "systemd", 1, DAEMON, INFO, f"Finished {name} - {desc}.")

    # --- the application server ---------------------------------------------
    def app(self, t):
        """billing-api events on app01: RFC 5424 with msgids and structured data."""
        rng = self.rng
        host = "app01.example.net"
        pid = 2210
        r = rng.random()
        sev = INFO
        bom = False
        msg = None
        if r < 0.30:
            user = rng.choice(["ana.ruiz", "j.smith", "m.chen", "o.dubois", "k.novak"])
            ok = rng.random() < 0.9
            msgid = "AUTH"
            sd = [("exampleSDID@32473", [("iut", "3"), ("eventSource", "Application"), ("eventID", "1011" if ok else "1012")]),
                  ("auth@32473", [("user", user), ("result", "success" if ok else "failure"), ("src", f"10.0.8.{rng.randint(2, 250)}")])]
            msg = f"user {user} logged in" if ok else f"login failed for {user}"
            sev = INFO if ok else WARNING
        elif r < 0.60:
            msgid = "ORDER"
            amount = f"{rng.randint(5, 900)}.{rng.randint(0, 99):02d}"
            order = f"SO-{rng.randint(100000, 999999)}"
            sd = [("order@32473", [("id", order), ("amount", amount), ("currency", rng.choice(["EUR", "USD"]))])]
            msg = f"order {order} captured"
        elif r < 0.75:
            msgid = "HEALTH"
            sd = [("health@32473", [("status", "ok"), ("latency_ms", str(rng.randint(2, 40)))])]
            msg = None                                 # structured data only, no MSG
        else:
            msgid = "ID47"
            sd = [("exampleSDID@32473", [("iut", "3"), ("eventSource", "Application"), ("eventID", "1011")])]
            msg = "application event log entry"
        # Values that need escaping, and other corners, now and then.
        special = rng.random()
        if special < 0.05:
            name = rng.choice(["o'brien", "d'arcy", "van \"the man\" dam"])
            sd = [("query@32473", [("sql", f'SELECT id FROM customers WHERE name = "{name}"'), ("rows", "1")])]
            msgid, msg = "DB", "slow query"
            sev = WARNING
        elif special < 0.10:
            share = rng.choice(["billing", "exports", "invoices"])
            sd = [("file@32473", [("path", f"\\\\fs01\\{share}\\2026-11"), ("mode", "rw")])]
            msgid, msg = "EXPORT", f"export written to share {share}"
        elif special < 0.14:
            sd = [("validation@32473", [("rule", "[A-Z]{3}-[0-9]+"), ("field", "invoice"), ("note", 'said "no" \\ [ok]')])]
            msgid, msg = "VALID", "invoice number rejected"
            sev = NOTICE
        elif special < 0.18:
            sd = [("exampleSDID@32473", [("iut", "3"), ("eventSource", "Application"), ("eventID", "1011"), ("ref", "")]),
                  ("heartbeat@32473", [])]
            msgid = "ID47"
        return self.add(t, host, "billing-api", pid, LOCAL4, sev, msg, msgid=msgid, sd=sd, bom=bom)


def build(rng):
    g = Gen(rng)
    end = T0 + SPAN

    # Background: internet noise against the exposed sshd and firewalls.
    for host, rate in (("web01", 90), ("web02", 110), ("bastion01.example.net", 140)):
        t = T0 + rng.uniform(0, rate)
        while t < end:
            g.noise(t, host)
            t += rng.expovariate(1 / rate)
    for host, rate in (("web01", 75), ("web02", 75), ("bastion01.example.net", 150)):
        t = T0 + rng.uniform(0, rate)
        while t < end:
            port, proto = rng.choice([(23, "TCP"), (445, "TCP"), (3389, "TCP"), (8080, "TCP"), (5900, "TCP"),
                                      (2323, "TCP"), (1433, "TCP"), (6379, "TCP"), (1900, "UDP"), (5060, "UDP"),
                                      (123, "UDP"), (161, "UDP")])
            g.drop(t, host, rng.choice(NOISE), port, proto)
            t += rng.expovariate(1 / rate)

    # Admins at work (late: an on-call night), with sudo.
    work = [("alice", "web01", [("/usr/bin/systemctl reload nginx", "/home/alice"), ("/usr/bin/tail -n 200 /var/log/nginx/error.log", "/home/alice")]),
            ("bob", "db01.example.net", [("/usr/bin/apt-get update", "/home/bob"), ("/usr/bin/systemctl status postgresql", "/home/bob")]),
            ("alice", "web02", [("/usr/bin/journalctl -u nginx --since today", "/var/www")]),
            ("deploy", "web01", [("/usr/bin/systemctl restart shop-backend", "/srv/shop")]),
            ("deploy", "web02", [("/usr/bin/systemctl restart shop-backend", "/srv/shop")]),
            ("bob", "bastion01.example.net", []),
            ("alice", "app01.example.net", [("/usr/bin/systemctl restart billing-api", "/home/alice")]),
            ("bob", "web01", [("/usr/sbin/ufw status numbered", "/home/bob")]),
            ("alice", "bastion01.example.net", [("/usr/bin/last -n 20", "/home/alice")]),
            ("deploy", "app01.example.net", [("/usr/bin/systemctl restart billing-api", "/srv/billing")]),
            ("bob", "db01.example.net", [("/usr/bin/du -sh /var/lib/postgresql", "/home/bob")]),
            ("alice", "web01", [("/usr/bin/certbot renew --dry-run", "/home/alice")])]
    t = T0 + 300
    for user, host, cmds in work:
        g.admin_session(t, host, user, cmds)
        t += rng.uniform(600, 1300)

    # cron: PHP session cleanup twice an hour on the web servers, cron.hourly everywhere, a nightly dump on db01.
    hours = [T0 - 1800 + 3600 * k for k in range(6)]   # local hh:00 (CET), from 22:00
    for h in hours:
        for host in HOSTS:
            if T0 <= h + 17 * 60 < end:
                g.cron(h + 17 * 60 + rng.uniform(0.5, 1.5), host, "root", "cd / && run-parts --report /etc/cron.hourly")
        for host in ("web01", "web02"):
            for m in (9, 39):
                if T0 <= h + m * 60 < end:
                    g.cron(h + m * 60 + rng.uniform(0.5, 1.5), host, "root",
                           "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi")
    g.cron(T0 + 9000 + rng.uniform(0.5, 1.5), "db01.example.net", "postgres", "/usr/local/bin/pg_backup.sh --all > /dev/null 2>&1")

    # systemd timers: sysstat every 10 minutes on the web servers and db01, logrotate and man-db at local midnight.
    for host in ("web01", "web02", "db01.example.net"):
        t = T0 + 600
        while t < end:
            g.unit(t + rng.uniform(0.1, 0.9), host, "sysstat-collect.service", "system activity accounting tool", rng.uniform(0.02, 0.2))
            t += 600
    midnight = dt.datetime(2026, 12, 1, 0, 0, tzinfo=TZ3164).timestamp()
    for host in HOSTS:
        g.unit(midnight + rng.uniform(0.2, 3), host, "logrotate.service", "Rotate log files", rng.uniform(0.3, 1.5))
        g.unit(midnight + rng.uniform(5, 40), host, "man-db.service", "Daily man-db regeneration", rng.uniform(1, 5))
    g.add(midnight + 1.9, "web01", "systemd", 1, DAEMON, INFO, "Reloading nginx.service - A high performance web server and a reverse proxy server...")
    g.add(midnight + 2.0, "web01", "systemd", 1, DAEMON, INFO, "Reloaded nginx.service - A high performance web server and a reverse proxy server.")
    g.add(midnight + 2.2, "web01", "rsyslogd", 841, USER, INFO,
          '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="841" x-info="https://www.rsyslog.com"] rsyslogd was HUPed')
    g.add(midnight + 2.4, "web02", "rsyslogd", 838, USER, INFO,
          '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="838" x-info="https://www.rsyslog.com"] rsyslogd was HUPed')
    r = g.add(midnight + 2.6, "db01.example.net", "rsyslogd", 902, USER, INFO, "rsyslogd was HUPed",
              sd=[("origin", [("software", "rsyslogd"), ("swVersion", "8.2302.0"), ("x-pid", "902"), ("x-info", "https://www.rsyslog.com")]),
                  ("timeQuality", [("tzKnown", "1"), ("isSynced", "1"), ("syncAccuracy", "120000")])])
    g.add(T0 + 7700, "web02", "systemd", 1, DAEMON, ERR, "shop-backend.service: Main process exited, code=exited, status=1/FAILURE")
    g.add(T0 + 7700.002, "web02", "systemd", 1, DAEMON, WARNING, "shop-backend.service: Failed with result 'exit-code'.")
    g.add(T0 + 7705.1, "web02", "systemd", 1, DAEMON, INFO, "shop-backend.service: Scheduled restart job, restart counter is at 1.")
    g.add(T0 + 7705.2, "web02", "systemd", 1, DAEMON, INFO, "Started shop-backend.service - Shop backend (gunicorn).")

    # The application server.
    t = T0 + rng.uniform(0, 60)
    while t < end:
        g.app(t)
        t += rng.expovariate(1 / 75)
    # NILVALUEs, a BOM and UTF-8, an invalid escape (a lone backslash stays).
    g.add(T0 + 1234.5, "app01.example.net", "billing-api", 2210, LOCAL4, NOTICE,
          "Pago rechazado: tarjeta caducada (cliente «Núñez», Logroño)", msgid="PAY",
          sd=[("pay@32473", [("city", "Logroño"), ("reason", "expired")])], bom=True)
    g.add(T0 + 5555.25, "app01.example.net", "billing-api", 2210, LOCAL4, INFO, "Factura enviada a «Peña»", msgid="MAIL", bom=True)
    g.add(T0 + 8100.75, "app01.example.net", "billing-api", 2210, LOCAL4, WARNING, "pattern check fell back to default",
          msgid="VALID", sd=[("validation@32473", [("pattern", "^\\d+$"), ("field", "customer_id")])]).raw = {("validation@32473", "pattern"): "^\\d+$"}
    g.add(T0 + 2500, "app01.example.net", "billing-api", None, LOCAL4, INFO, "worker pool resized to 8", msgid="POOL")
    g.add(T0 + 6100, "app01.example.net", None, None, LOCAL4, INFO, "configuration reloaded")
    r = g.add(T0 + 9100, "app01.example.net", "billing-api", 2210, LOCAL4, ERR, "clock not synchronised, event without time",
              msgid="CLOCK", sd=[("timeQuality", [("tzKnown", "0"), ("isSynced", "0")])])
    r.nil_time = True
    r = g.add(T0 + 11000, "app01.example.net", "billing-api", 2210, LOCAL4, INFO, "message from a container without a hostname",
              msgid="CTR")
    r.nil_host = True

    # The story. 1) a brute force against web01's sshd, one address, many users.
    t = dt.datetime(2026, 11, 30, 23, 47, 10, tzinfo=TZ3164).timestamp()
    users = BRUTE_USERS[:]
    rng.shuffle(users)
    for u in users:
        g.attempt(t, "web01", u, g.port(), "bruteforce")
        t += rng.uniform(3.5, 6)
    g.add(t, "web01", "sshd", g.pid("web01"), AUTH, ERR,
          f"maximum authentication attempts exceeded for invalid user admin from {ATTACKER} port {g.port()} ssh2 [preauth]",
          scenario="bruteforce")
    # 2) a port scan of web02 from another address.
    t = dt.datetime(2026, 11, 30, 23, 55, 2, tzinfo=TZ3164).timestamp()
    for p in sorted(rng.sample([21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 2049,
                                3306, 3389, 5432, 5900, 6379, 8000, 8080, 8443, 9000, 9200, 11211, 27017], 30)):
        if p not in (22, 80, 443):
            g.drop(t, "web02", SCANNER, p, scenario="portscan")
        t += rng.uniform(0.05, 0.6)
    # 3) the same address on the bastion: a few guesses, then deploy's password works.
    t = dt.datetime(2026, 12, 1, 0, 21, 40, tzinfo=TZ3164).timestamp()
    host = "bastion01.example.net"
    for u in ["admin", "root", "ubuntu", "jenkins", "deploy", "deploy", "backup", "deploy"]:
        g.attempt(t, host, u, g.port(), "bruteforce")
        t += rng.uniform(4, 7)
    pid, port = g.pid(host), g.port()
    g.add(t, host, "sshd", pid, AUTH, INFO, f"Accepted password for deploy from {ATTACKER} port {port} ssh2", scenario="compromise")
    g.add(t + 0.005, host, "sshd", pid, AUTHPRIV, INFO, "pam_unix(sshd:session): session opened for user deploy(uid=1003) by (uid=0)",
          scenario="compromise")
    sess = g.sessions[host] = g.sessions[host] + 1
    g.add(t + 0.012, host, "systemd-logind", 598, AUTHPRIV, INFO, f"New session {sess} of user deploy.", scenario="compromise")
    g.add(t + 0.020, host, "systemd", 1, DAEMON, INFO, f"Started session-{sess}.scope - Session {sess} of User deploy.", scenario="compromise")
    t += 48.3
    g.sudo(t, host, "deploy", 1003, "/bin/bash", "/home/deploy", "pts/2", scenario="priv_esc")   # sudo -u root /bin/bash
    t += 61.7
    upid = g.pid(host)
    g.add(t, host, "useradd", upid, AUTHPRIV, INFO, "new group: name=sysbackup, GID=1005", scenario="new_priv_user")
    g.add(t + 0.002, host, "useradd", upid, AUTHPRIV, INFO,
          "new user: name=sysbackup, UID=1005, GID=1005, home=/home/sysbackup, shell=/bin/bash, from=/dev/pts/2",
          scenario="new_priv_user")
    t += 9.4
    mpid = g.pid(host)
    g.add(t, host, "usermod", mpid, AUTHPRIV, INFO, "add 'sysbackup' to group 'sudo'", scenario="new_priv_user")
    g.add(t + 0.001, host, "usermod", mpid, AUTHPRIV, INFO, "add 'sysbackup' to shadow group 'sudo'", scenario="new_priv_user")
    t += 7.9
    g.add(t, host, "passwd", g.pid(host), AUTHPRIV, NOTICE, "pam_unix(passwd:chauthtok): password changed for sysbackup",
          scenario="new_priv_user")
    # 4) on web02, the web server's user tries sudo (a web shell?).
    t = dt.datetime(2026, 12, 1, 1, 3, 12, tzinfo=TZ3164).timestamp()
    g.add(t, "web02", "sudo", None, AUTHPRIV, ALERT,
          "www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www/shop/uploads ; USER=root ; COMMAND=/bin/bash -c id",
          scenario="sudo_denied")
    # 5) the new account used from elsewhere.
    t = dt.datetime(2026, 12, 1, 1, 40, 5, tzinfo=TZ3164).timestamp()
    pid, port = g.pid(host), g.port()
    g.add(t, host, "sshd", pid, AUTH, INFO, f"Accepted password for sysbackup from 198.51.100.250 port {port} ssh2", scenario="new_priv_user")
    g.add(t + 0.004, host, "sshd", pid, AUTHPRIV, INFO,
          "pam_unix(sshd:session): session opened for user sysbackup(uid=1005) by (uid=0)", scenario="new_priv_user")
    return g.recs


def stamp(t, digits, offset_min, zulu):
    """(written timestamp, RFC 3339 UTC truth) for a time truncated to digits."""
    micros = int(round(t * 1e6))
    micros -= micros % (10 ** (6 - digits))
    u = dt.datetime.fromtimestamp(micros // 1000000, UTC).replace(microsecond=micros % 1000000)
    local = u.astimezone(dt.timezone(dt.timedelta(minutes=offset_min)))
    frac = "" if digits == 0 else "." + f"{u.microsecond:06d}"[:digits]
    if zulu:
        zone = "Z"
    else:
        sign = "+" if offset_min >= 0 else "-"
        zone = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone, u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def render(r, seq):
    """(line, truth row) for one record."""
    h = HOSTS[r.host]
    if h["format"] == "rfc3164":
        u = dt.datetime.fromtimestamp(int(r.t), UTC)      # whole seconds
        loc = u.astimezone(TZ3164)
        assert loc.year == YEAR
        ts = f"{MONTHS[loc.month - 1]} {loc.day:2d} {loc.strftime('%H:%M:%S')}"
        tag = r.app if r.pid is None else f"{r.app}[{r.pid}]"
        line = f"<{r.pri}>{ts} {r.host} {tag}: {r.msg}"
        return line, ["rfc3164", u.strftime("%Y-%m-%dT%H:%M:%SZ"), r.host, r.app, "" if r.pid is None else r.pid,
                      "", "", r.pri, r.msg]
    sd = r.sd
    if r.host == "bastion01.example.net":              # its rsyslog numbers every message
        sd = (sd or []) + [("meta", [("sequenceId", str(seq))])]
    written, truth_ts = stamp(r.t, h["digits"], h["offset"], h["offset"] == 0)
    if r.nil_time:
        written, truth_ts = "-", ""
    host = "-" if r.nil_host else r.host
    raw = getattr(r, "raw", {})
    if sd:
        sd_text = "".join("[" + sid + "".join(f' {k}="{raw.get((sid, k), esc(v))}"' for k, v in params) + "]"
                          for sid, params in sd)
    else:
        sd_text = "-"
    line = f"<{r.pri}>1 {written} {host} {r.app or '-'} {'-' if r.pid is None else r.pid} {r.msgid or '-'} {sd_text}"
    if r.msg is not None:
        line += " " + ("\ufeff" if r.bom else "") + r.msg
    sd_json = json.dumps({sid: dict(params) for sid, params in (sd or [])}, ensure_ascii=False, separators=(",", ":"))
    return line, ["rfc5424", truth_ts, "" if r.nil_host else r.host, r.app or "", "" if r.pid is None else r.pid,
                  r.msgid or "", sd_json, r.pri, r.msg or ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--out", default=os.path.join(ROOT, "config", "samples", "syslog.log"))
    ap.add_argument("--truth", default=None, help="default: OUT with .truth.csv instead of .log")
    args = ap.parse_args()
    truth = args.truth or (args.out[:-len(".log")] if args.out.endswith(".log") else args.out) + ".truth.csv"
    recs = build(random.Random(args.seed))
    recs = [r for r in recs if T0 <= r.t < T0 + SPAN]
    recs.sort(key=lambda r: r.t)                       # stable: a burst keeps its order
    seq = 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as out, open(truth, "w", encoding="utf-8", newline="") as tf:
        w = csv.writer(tf, lineterminator="\n")
        w.writerow(["line", "format", "timestamp", "hostname", "app_name", "pid", "msgid", "structured_data", "pri",
                    "message", "scenario"])
        for i, r in enumerate(recs):
            if r.host == "bastion01.example.net":
                seq += 1
            line, row = render(r, seq)
            out.write(line + "\n")
            w.writerow([i] + row + [r.scenario])


if __name__ == "__main__":
    main()
