#!/usr/bin/env python3
"""The anchors of bench/web: the OWASP Core Rule Set (Debian's modsecurity-crs
3.3.4) and libinjection, both run by libmodsecurity3 (Debian's 3.0.9, which
carries libinjection inside it), through its C API from ctypes: each value
goes in as the query of one GET request, as a web server would hand it over.

  CRS at paranoia level N: Debian's crs-setup.conf and the CRS rules as
    shipped (anomaly scoring, inbound threshold 5), tx.paranoia_level=N; a
    value is flagged when the transaction is blocked (403 from 949110).
  libinjection: @detectSQLi and @detectXSS on ARGS (decoded once by
    ModSecurity, no further transforms), libinjection's own verdict: it has
    no path-traversal or command-injection detector.

    python3 bench/web/anchors.py crs1|crs2|libinjection < wires.txt > flags.txt
(one percent-encoded value a line in, 1 or 0 a line out). Needs
`apt-get install libmodsecurity3 modsecurity-crs` (bench/web/detect.sh does).
"""
import ctypes
import sys

CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf"
CRS_RULES = "/usr/share/modsecurity-crs/rules"


class Intervention(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("pause", ctypes.c_int), ("url", ctypes.c_char_p),
                ("log", ctypes.c_char_p), ("disruptive", ctypes.c_int)]


def rules_for(which):
    base = "SecRuleEngine On\nSecRequestBodyAccess On\nSecAuditEngine Off\nSecDebugLogLevel 0\n"
    if which == "libinjection":
        return base + ('SecRule ARGS "@detectSQLi" "id:1,phase:2,deny,status:403,t:none,nolog"\n'
                       'SecRule ARGS "@detectXSS" "id:2,phase:2,deny,status:403,t:none,nolog"\n')
    level = {"crs1": 1, "crs2": 2}[which]
    return (base + f"Include {CRS_SETUP}\n"
            f'SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={level}"\n'
            f"Include {CRS_RULES}/REQUEST-*.conf\n")


class ModSecurity:
    def __init__(self, which):
        lib = ctypes.CDLL("libmodsecurity.so.3")
        lib.msc_init.restype = ctypes.c_void_p
        lib.msc_set_connector_info.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.msc_create_rules_set.restype = ctypes.c_void_p
        lib.msc_new_transaction.restype = ctypes.c_void_p
        lib.msc_new_transaction.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.msc_rules_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
        lib.msc_process_connection.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.msc_process_uri.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
        lib.msc_add_request_header.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        for f in ("msc_process_request_headers", "msc_process_request_body", "msc_process_logging",
                  "msc_transaction_cleanup"):
            getattr(lib, f).argtypes = [ctypes.c_void_p]
        lib.msc_intervention.argtypes = [ctypes.c_void_p, ctypes.POINTER(Intervention)]
        self.lib = lib
        self.ms = lib.msc_init()
        # Each match is logged through this callback (stderr without one): ignored, the verdict is the intervention.
        self._quiet = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda data, msg: None)
        lib.msc_set_log_cb.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.msc_set_log_cb(ctypes.c_void_p(self.ms), ctypes.cast(self._quiet, ctypes.c_void_p))
        self.rules = lib.msc_create_rules_set()
        err = ctypes.c_char_p()
        if lib.msc_rules_add(self.rules, rules_for(which).encode(), ctypes.byref(err)) < 0:
            raise SystemExit(f"libmodsecurity refused the rules: {err.value.decode(errors='replace')}")

    def flags(self, wire):
        lib, t = self.lib, self.lib.msc_new_transaction(self.ms, self.rules, None)
        it = Intervention(200, 0, None, None, 0)
        blocked = False
        lib.msc_process_connection(t, b"198.51.100.7", 50123, b"192.0.2.10", 80)
        lib.msc_process_uri(t, b"/search?q=" + wire.encode(), b"GET", b"1.1")
        # The headers a browser sends: the protocol rules (920xxx) stay quiet.
        for k, v in ((b"Host", b"shop.example.com"), (b"Accept", b"text/html,application/xhtml+xml,*/*;q=0.8"),
                     (b"Accept-Language", b"en-US,en;q=0.5"), (b"Accept-Encoding", b"gzip, deflate"),
                     (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
                     (b"Connection", b"keep-alive")):
            lib.msc_add_request_header(t, k, v)
        for step in (lib.msc_process_request_headers, lib.msc_process_request_body):
            step(t)
            if lib.msc_intervention(t, ctypes.byref(it)) and it.status >= 400:
                blocked = True
                break
        lib.msc_process_logging(t)
        lib.msc_transaction_cleanup(t)
        return blocked


def main():
    m = ModSecurity(sys.argv[1])
    out = sys.stdout
    for line in sys.stdin:
        out.write("1\n" if m.flags(line.rstrip("\n")) else "0\n")


if __name__ == "__main__":
    main()
