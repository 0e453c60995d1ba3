#!/usr/bin/env python3
"""Generates an nginx access log in the default `combined` format whose query
values are real labelled HTTP parameter values, normal and attacks:

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"

The bundled sample (config/samples/nginx-access.log) is made with the defaults:
    scripts/gen_nginx_access.py
It has the class mix of scripts/gen_web_access.py (the same payload classes in
the same shares), a few lines nginx writes for bad requests, and a few
malformed lines at fixed positions (SPECIAL) for the parser's dead-letter path.
A second file (--truth) gives, per 0-based line: the class (`malformed` for a
line that is not combined format), the UTC time the line's $time_local stands
for, and the parameter name and data set value the query carries (a form
decode of that parameter's value gives the value back).
Deterministic for a given --seed. Standard library only.
"""
import argparse
import csv
import datetime
import json
import os
import random
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from gen_web_access import DEFAULT_MIX, load  # noqa: E402  (same classes, same shares)

# Local time of the server: a fixed offset, so every $time_local maps to a known
# UTC time. The log starts an hour before local midnight and runs past it: local
# dates are 30/Nov and 01/Dec, UTC dates all 2026-11-30.
TZ = datetime.timezone(datetime.timedelta(hours=1))
START = datetime.datetime(2026, 11, 30, 23, 0, 0, tzinfo=TZ)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# Lines that carry no data set value, by 0-based position: what nginx writes for
# a connection closed before any request (valid combined format), for a TLS
# handshake sent to the plain-HTTP port (valid; the request's bytes escaped as
# \xXX), and four lines that are not combined format.
SPECIAL = {
    1000: "truncated",   # a combined line cut inside the request (writer killed mid-line)
    1500: "empty_request",
    2500: "error_log",   # an nginx error-log line in the access log
    3000: "tls_handshake",
    3750: "common",      # Common Log Format: no referer, no user agent
    4400: "json",        # a JSON access-log line (log_format escape=json)
}
MALFORMED = {"truncated", "error_log", "common", "json"}

HOST = "shop.example.com"
PATHS = {
    "norm": ["/tienda1/publico/anadir.jsp", "/tienda1/publico/registro.jsp", "/tienda1/publico/autenticar.jsp",
             "/tienda1/publico/pagar.jsp", "/tienda1/publico/vaciar.jsp", "/tienda1/miembros/editar.jsp",
             "/tienda1/miembros/fotos.jsp", "/search", "/account/profile"],
    "attack": ["/tienda1/publico/anadir.jsp", "/tienda1/publico/autenticar.jsp", "/tienda1/miembros/editar.jsp",
               "/search", "/index.php", "/cgi-bin/view", "/download", "/api/v1/products"],
}
POST_PATHS = ["/tienda1/publico/autenticar.jsp", "/tienda1/publico/registro.jsp", "/tienda1/publico/pagar.jsp",
              "/tienda1/miembros/editar.jsp", "/account/profile"]
STATIC = ["/", "/tienda1/index.jsp", "/tienda1/imagenes/logo.png", "/static/css/main.css", "/static/js/app.js",
          "/favicon.ico", "/robots.txt"]
PARAMS = ["id", "q", "nombre", "apellidos", "email", "direccion", "ciudad", "cp", "login", "pwd", "file", "page",
          "cantidad", "precio", "B1", "ntc", "provincia", "dni"]
# Synthetic extra parameters; `localidad` carries non-ASCII text (UTF-8, %XX-encoded).
LOCALIDADES = ["Málaga", "Cádiz", "León", "A Coruña", "Ávila", "Logroño", "Jaén", "Cáceres", "Almería", "Alcalá de Henares"]
USERS = ["jgarcia", "mlopez", "afernandez", "psanchez", "lmartin", "crodriguez"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
]
ATTACK_AGENTS = ["sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                 "python-requests/2.31.0", "curl/8.5.0", "Wget/1.21.3", "Go-http-client/1.1",
                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"]
REFERERS = ["https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
            "https://www.facebook.com/", "android-app://com.google.android.gm/"]


def clients(rng):
    """Client address pools: documentation ranges (RFC 5737, RFC 3849) and private
    addresses behind a corporate NAT, so no real host is named."""
    nets = ["192.0.2", "198.51.100", "203.0.113"]
    normal = sorted({f"{rng.choice(nets)}.{rng.randint(1, 254)}" for _ in range(360)})
    normal += [f"2001:db8:{rng.randint(1, 0xffff):x}::{rng.randint(1, 0xffff):x}" for _ in range(40)]
    normal += [f"10.20.{rng.randint(0, 3)}.{rng.randint(2, 250)}" for _ in range(30)]
    attackers = sorted({f"{rng.choice(nets)}.{rng.randint(1, 254)}" for _ in range(18)})
    attackers += ["2001:db8:bad:1::66", "2001:db8:bad:7::13"]
    return normal, attackers


def plan(by_class, count, rng):
    """(class, payload) per line: every attack of the default mix (scaled to count),
    normal values for the rest; the special positions get (kind, None)."""
    base = sum(DEFAULT_MIX.values())
    attacks_total = round(count * base / 5000)
    specials = {i: k for i, k in SPECIAL.items() if i < count}
    picks = []
    for cls, n in DEFAULT_MIX.items():
        want = round(n * attacks_total / base)
        pool = by_class[cls]
        picks += [(cls, p) for p in (rng.sample(pool, want) if want <= len(pool) else rng.choices(pool, k=want))]
    normal = count - len(picks) - len(specials)
    pool = by_class["norm"]
    picks += [("norm", p) for p in (rng.sample(pool, normal) if normal <= len(pool) else rng.choices(pool, k=normal))]
    rng.shuffle(picks)
    for i in sorted(specials):
        picks.insert(i, (specials[i], None))
    return picks


def time_local(t):
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0100"


def encode(value, rng):
    """A value as a browser sends it in a query: form encoding (space as +) mostly,
    else percent-encoding (space as %20); every reserved or non-ASCII byte as %XX
    (UTF-8), so the value survives & and = and a form decode gives it back."""
    if rng.random() < 0.7:
        return urllib.parse.quote_plus(value, safe="")
    return urllib.parse.quote(value, safe="")


def line(cls, payload, t, rng, pools):
    """One combined-format line, and (param, method, status) for the truth file."""
    normal_ips, attack_ips = pools
    attack = cls != "norm"
    user = "-"
    ref = "-"
    proto = rng.choice(["HTTP/1.1"] * 3 + ["HTTP/2.0"])
    param = None
    if payload is None:                      # no data set value: a static asset or a form POST
        method, path = rng.choice([("GET", rng.choice(STATIC)), ("POST", rng.choice(POST_PATHS))])
        target = path
        status = rng.choice([200] * 12 + [302, 304, 404]) if method == "GET" else rng.choice([200, 200, 302, 302, 302])
    else:
        param = rng.choice(PARAMS)
        names = [n for n in ["id", "cantidad", "precio", "page", "cp"] if n != param]
        pairs = [(param, encode(payload, rng))]
        if rng.random() < 0.35:
            pairs.insert(0, (rng.choice(names), str(rng.randint(1, 3000))))
        if rng.random() < 0.5:
            pairs.append(("lang", rng.choice(["es", "en", "ca"])))
        if not attack and rng.random() < 0.04:
            pairs.append(("localidad", encode(rng.choice(LOCALIDADES), rng)))
        query = "&".join(f"{k}={v}" for k, v in pairs)
        path = rng.choice(PATHS["attack" if attack else "norm"])
        method = "GET" if rng.random() < (0.85 if attack else 0.9) else "POST"
        target = f"{path}?{query}"
        if attack:
            status = rng.choice([200, 200, 302, 400, 400, 403, 403, 403, 404, 500, 500])
            if rng.random() < 0.15:
                proto = "HTTP/1.0"
        else:
            status = rng.choice([200] * 18 + [302, 404])
    if "/miembros/" in target and rng.random() < 0.6:
        user = rng.choice(["admin", "root", "test"]) if attack else rng.choice(USERS)
        if attack and status == 200:
            status = 401
    if attack:
        ip = rng.choice(attack_ips)
        agent = rng.choice(ATTACK_AGENTS)
        if rng.random() < 0.15:
            ref = f"https://{HOST}{rng.choice(PATHS['attack'])}"
    else:
        ip = rng.choice(normal_ips)
        agent = rng.choice(BOTS) if rng.random() < 0.04 else rng.choice(AGENTS)
        r = rng.random()
        if r < 0.55:
            ref = f"https://{HOST}{rng.choice(PATHS['norm'] + STATIC[:2])}"
        elif r < 0.7:
            ref = rng.choice(REFERERS)
    size = {304: 0, 302: 145, 400: 157, 401: 179, 403: 153, 404: 153, 500: 177}.get(status)
    if size is None or (status in (404, 500) and rng.random() < 0.5):
        size = rng.randint(180, 48000) if status != 304 else 0
    text = (f'{ip} - {user} [{time_local(t)}] "{method} {target} {proto}" {status} {size} '
            f'"{ref}" "{agent}"')
    return text, param, ip, method, status, size


def special(kind, t, rng, pools, good_line):
    """The text of a special line; good_line is a normal combined line to cut or reshape."""
    ip = rng.choice(pools[0])
    tl = time_local(t)
    if kind == "empty_request":     # client connected and closed (or sent nothing) before the request line
        return f'{ip} - - [{tl}] "-" 400 0 "-" "-"'
    if kind == "tls_handshake":     # nginx escapes bytes outside printable ASCII as \xXX
        hello = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\\x8A\\x1F\\xA6\\x9B\\xE2\\x05p\\xC5\\xD2"
        return f'{ip} - - [{tl}] "{hello}" 400 157 "-" "-"'
    if kind == "truncated":
        q = good_line.index("?")
        return good_line[:(q + good_line.index(" HTTP/", q)) // 2]
    if kind == "error_log":
        e = t.strftime("%Y/%m/%d %H:%M:%S")
        return (f'{e} [error] 1187#1187: *48213 open() "/usr/share/nginx/html/favicon.ico" failed '
                f'(2: No such file or directory), client: {ip}, server: {HOST}, request: "GET /favicon.ico HTTP/1.1", '
                f'host: "{HOST}", referrer: "https://{HOST}/tienda1/index.jsp"')
    if kind == "common":
        return good_line[:good_line.rindex(' "', 0, good_line.rindex(' "'))]
    if kind == "json":
        return json.dumps({"time_local": tl, "remote_addr": ip, "remote_user": "", "request": "GET /tienda1/index.jsp HTTP/1.1",
                           "status": 200, "body_bytes_sent": 5120, "http_referer": "", "http_user_agent": AGENTS[0]},
                          separators=(",", ":"))
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=os.path.join(ROOT, "tests", "data", "http_params", "train.csv"))
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--out", default=os.path.join(ROOT, "config", "samples", "nginx-access.log"))
    ap.add_argument("--truth", default=None, help="default: OUT with .truth.csv instead of .log")
    args = ap.parse_args()
    truth = args.truth or (args.out[:-len(".log")] if args.out.endswith(".log") else args.out) + ".truth.csv"
    rng = random.Random(args.seed)
    picks = plan(load(args.csv), args.count, rng)
    pools = clients(rng)
    t = START
    with open(args.out, "w", encoding="utf-8", newline="\n") as out, \
            open(truth, "w", encoding="utf-8", newline="") as tf:
        w = csv.writer(tf, lineterminator="\n")
        w.writerow(["line", "label", "timestamp", "param", "value"])
        for i, (cls, payload) in enumerate(picks):
            t += datetime.timedelta(seconds=int(rng.expovariate(1 / 1.5)))
            utc = t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if payload is None and cls in SPECIAL.values():
                base, *_ = line("norm", "1", t, rng, pools)
                text = special(cls, t, rng, pools, base)
                label = "malformed" if cls in MALFORMED else "norm"
                w.writerow([i, label, "" if label == "malformed" else utc, "", ""])
            else:
                if cls == "norm" and rng.random() < 0.08:   # a form POST or a static asset: no value in the log
                    payload = None
                text, param, *_ = line(cls, payload, t, rng, pools)
                w.writerow([i, cls, utc, param or "", payload if payload is not None else ""])
            out.write(text + "\n")


if __name__ == "__main__":
    main()
