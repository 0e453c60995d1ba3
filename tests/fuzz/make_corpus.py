#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/, from
the project's own data and tests (what each seed comes from: tests/fuzz/README.md).
Deterministic: rerunning it gives the same files. The snapshot seeds are made
by the real code: build them first with `scripts/fuzz.sh --build` and
`cmake --build build-fuzz --target snapshot_seeds`.

    tests/fuzz/make_corpus.py [target...]
"""
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fuzz/corpus"
MAX_FILES = 200
MAX_BYTES = 2 << 20

# The parse target's first byte picks its configuration (tests/fuzz/parse_fuzz.cpp, kSetups).
PARSE = {"regex": 0, "grok_httpd": 1, "grok_custom": 2, "syslog": 3, "apache_common": 4, "apache_combined": 5,
         "nginx_combined": 6, "cef": 7, "leef": 8, "key_value": 9, "key_value_splits": 10, "csv": 11,
         "csv_header": 12, "grok_syslog": 13}


def read(path):
    return (ROOT / path).read_bytes()


def lines(path):
    return read(path).decode("utf-8").splitlines()


def raw_strings(*paths):
    """The C++ raw string literals R"(...)" of test sources, in order."""
    out = []
    for p in paths:
        for f in sorted(ROOT.glob(p)):
            out += re.findall(r'R"\((.*?)\)"', f.read_text(encoding="utf-8"), re.S)
    return out


class Corpus:
    """A target's seed directory, written afresh; inputs that once broke the target
    (regression-*, added by hand with what they found) are kept."""

    def __init__(self, target):
        self.dir = OUT / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.names, self.seen, self.bytes = set(), set(), 0
        for f in sorted(self.dir.iterdir()):
            if f.name.startswith("regression-"):
                self.names.add(f.name)
                self.seen.add(hashlib.sha1(f.read_bytes()).hexdigest())
                self.bytes += f.stat().st_size
            else:
                f.unlink()

    def add(self, name, data, max_len):
        if isinstance(data, str):
            data = data.encode("utf-8")
        data = data[:max_len]
        digest = hashlib.sha1(data).hexdigest()
        if digest in self.seen or len(self.seen) >= MAX_FILES or self.bytes + len(data) > MAX_BYTES:
            return
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
        while name in self.names:
            name += "_"
        self.names.add(name)
        self.seen.add(digest)
        self.bytes += len(data)
        (self.dir / name).write_bytes(data)

    def done(self):
        print(f"{self.dir.relative_to(ROOT)}: {len(self.seen)} files, {self.bytes} bytes")


def json_parse():
    c = Corpus("json_parse")
    web = lines("config/samples/web-access.jsonl")
    for i in range(0, len(web), 100):
        c.add(f"web-access-{i}", web[i], 16384)
    win = [l for l in lines("config/samples/windows-events.jsonl") if l]
    for i in range(0, len(win), 56):
        c.add(f"windows-event-{i}", win[i], 16384)
    for i, s in enumerate(raw_strings("tests/unit/operators/json_parse_test.cpp")):
        if s.lstrip()[:1] in ("{", "["):
            c.add(f"unit-test-{i}", s, 16384)
    crafted = {
        "empty": b"", "space": b"  \t ", "not-object": b"[1,2,3]", "string": b'"x"', "number": b"42",
        "duplicate": b'{"a":1,"a":2}', "duplicate-nested": b'{"a":{"b":1},"a.b":2}',
        "duplicate-deep": b'{"x":{"y":{"z":1}},"x":{"y":{"z":2}}}',
        "deep": b'{"a":' * 150 + b"1" + b"}" * 150, "deep-array": b'{"a":' + b"[" * 200 + b"]" * 200 + b"}",
        "big-numbers": b'{"a":1e400,"b":123456789012345678901234567890,"c":-0.0e-999,"d":[1e400]}',
        "number-key": b'{1e400:1}', "utf16le-bom": '\ufeff{"a":"b"}'.encode("utf-16-le"),
        "utf16be": '{"a":"b"}'.encode("utf-16-be"), "utf8-bom": b'\xef\xbb\xbf{"a":"b"}',
        "invalid-utf8": b'{"a":"\xff\xfe"}', "overlong": b'{"a":"\xc0\xaf"}',
        "surrogates": b'{"a":"\\ud83d\\ude00 \\ud800 \\udc00"}', "escapes": b'{"a\\u0000b":"\\"\\\\\\/\\b\\f\\n\\r\\t"}',
        "nul": b'{"a":"b"}\x00', "trailing": b'{"a":1} {"b":2}', "unclosed": b'{"a":"b',
        "types": b'{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"o":{},"l":[]}',
        "pointers": b'{"source":{"ip":"10.0.0.1"},"url":{"query":"q=1"},"a":["x",{"b":1}],"a/b":1,"c~d":2,'
                    b'"nested":{"x":[1,2]},"x":{"y":{"z":"deep"}},"n":12,"":"empty key"}',
        "query-array": b'{"url":{"query":["id=1 union select",{"q":"x"}]}}',
    }
    for name, data in crafted.items():
        c.add(name, data, 16384)
    c.done()


def parse():
    c = Corpus("parse")

    def add(fmt, name, text):
        c.add(f"{fmt}-{name}", bytes([PARSE[fmt]]) + text.encode("utf-8"), 8192)

    nginx = lines("config/samples/nginx-access.log")
    for i in range(0, 300, 20):
        chunk = "\n".join(nginx[i:i + 3])
        add("nginx_combined", str(i), chunk)
        add("grok_httpd", str(i), chunk)
        if i % 60 == 0:
            add("apache_combined", str(i), chunk)
            # The common format: the same lines without referrer and agent.
            add("apache_common", str(i), "\n".join(re.sub(r' "[^"]*" "[^"]*"$', "", l) for l in nginx[i:i + 3]))
    syslog = lines("config/samples/syslog.log")
    for i in range(0, min(len(syslog), 400), 16):
        chunk = "\n".join(syslog[i:i + 4])
        add("syslog", str(i), chunk)
        if i % 48 == 0:
            add("grok_syslog", str(i), "\n".join(re.sub(r"^<\d+>", "", l) for l in syslog[i:i + 4]))
    # The unit tests' lines, each to the format it is written in.
    for i, s in enumerate(raw_strings("tests/unit/operators/parse_test.cpp")):
        if "CEF:" in s:
            add("cef", str(i), s)
        elif "LEEF:" in s:
            add("leef", str(i), s)
        elif re.match(r"<\d+>", s):
            add("syslog", f"unit{i}", s)
        elif "=" in s and "{" not in s:
            add("key_value", str(i), s)
    crafted = [
        ("cef", "header", "CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 "
                          "msg=Detected a threat. act=blocked a \\= b rt=1552032000000"),
        ("cef", "pipes", "CEF:0|Vendor \\| Inc|Prod\\\\uct|1|sig|name|Low|"),
        ("cef", "syslog-prefix", "Sep 19 08:26:10 host CEF:0|a|b|c|d|e|1|rt=Mar 08 2019 08:00:00 src=10.0.0.1"),
        ("leef", "v1", "LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tusrName=bob"),
        ("leef", "v2", "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^devTime=Jan 20 2021 13:28:48"
                       "^devTimeFormat=MMM dd yyyy HH:mm:ss"),
        ("leef", "hex", "LEEF:2.0|V|P|1|E|x09|src=1.2.3.4\tdst=5.6.7.8\nLEEF:2.0|V|P|1|E|0x5E|src=1.2.3.4^dst=5.6.7.8"),
        ("key_value", "ts", 'ts="2026-11-30 10:00:00" source.ip=9.9.9.9 src=10.0.0.1 secret=x message=hi\n'
                            'ts=yesterday src=1\nno pairs here\na=1 a=2\nlevel=info msg="said \\"hi\\"" admin'),
        ("key_value_splits", "a", "a:1;b:two words,time:2026-11-30 10:00:00\nx:1;;y:\n:z"),
        ("csv", "a", 'x;y;z;2026-11-30T10:00:00Z\n"q;uoted";"said ""no""";z;bad time\na;b\na;b;c;d;e'),
        ("csv_header", "a", 'time,src,action\n2026-11-30T10:00:00Z,10.0.0.1,deny\n2026-11-30 10:00:01,10.0.0.2,"allow"'),
        ("csv_header", "dup", "ip,user,ip\n10.0.0.1,bob,10.6.6.6"),
        ("regex", "a", '10.1.2.3 alice [2026-11-30 10:00:00] "GET / HTTP/1.1" 42\n'
                       '10.1.2.3 bob [30/Nov/2026:10:00:00 +0100] "x" -1.5\nno match'),
        ("grok_custom", "a", "T-1234 10.0.0.1 42 3.5 the rest\nT-1 ::1 -7 1e3 x"),
        ("syslog", "rfc5424", '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                              '[exampleSDID@32473 iut="3" eventSource="App\\"lication"] An application event'),
        ("syslog", "bsd", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"
                          "<13>Feb 29 10:00:00 host app[22]: leap\n<999>Oct 11 22:14:15 host x: y"),
    ]
    for fmt, name, text in crafted:
        add(fmt, name, text)
    c.done()


def topology():
    c = Corpus("topology")
    for f in sorted((ROOT / "config").glob("*.yaml")):
        c.add(f"config-{f.stem}", f.read_bytes(), 16384)
    for i, s in enumerate(raw_strings("tests/unit/*/*.cpp", "tests/e2e/*.cpp", "tests/integration/*.cpp")):
        if "sources:" in s or "sinks:" in s or "operators:" in s:
            c.add(f"test-{i}", s, 16384)
    c.done()


def rules():
    c = Corpus("rules")
    web = read("config/rules/web.yaml").decode("utf-8")
    c.add("web", web, 16384)
    # Each rule of the starter file on its own.
    for i, rule in enumerate(re.split(r"\n(?=  - id:)", web.split("rules:\n", 1)[1])):
        if "id:" in rule:
            c.add(f"web-rule-{i}", "rules:\n" + rule.strip("\n") + "\n", 16384)
    for i, s in enumerate(raw_strings("tests/unit/*/*.cpp", "tests/e2e/*.cpp")):
        if s.startswith("rules:") or "\nrules:\n" in s:
            c.add(f"test-{i}", s, 16384)
    crafted = {
        "flow": "rules:\n  - {id: r1, pattern: 'union\\s+select', severity: high, tags: [sqli, T1190, attack.initial_access]}\n",
        "errors": "rules:\n  - {id: a, pattern: x, severity: urgent}\n  - {id: a, pattern: y}\n  - {pattern: z}\n"
                  "  - {id: b, patern: q}\n  - {id: c, pattern: [x]}\n  - {id: d, pattern: x, tags: sqli}\n  - 7\n",
        "not-a-map": "- id: a\n",
        "no-rules": "rules: {}\n",
        "anchors": "base: &b {severity: low, tags: [t]}\nrules:\n  - {<<: *b, id: a, pattern: 'a+'}\n",
        "bad-regex": "rules:\n  - {id: a, pattern: '(?<=x)y'}\n  - {id: b, pattern: '(unclosed'}\n  - {id: c, pattern: 'a{1000}{1000}'}\n",
        "empty": "",
        "tab": "rules:\n\t- id: a\n",
    }
    for name, text in crafted.items():
        c.add(name, text, 16384)
    c.done()


def sigma():
    c = Corpus("sigma")
    files = sorted(p for d in ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance",
                                "rules-placeholder")
                   for p in (ROOT / "config/sigma" / d).rglob("*.yml"))
    small = [p for p in files if p.stat().st_size < 3000]
    windows = [l for l in lines("config/samples/windows-events.jsonl") if l]
    process = [l for l in windows if '"EventID":1,' in l][:60]
    step = max(1, len(small) // 110)
    for n, p in enumerate(small[::step][:110]):
        text = p.read_text(encoding="utf-8")
        name = p.stem
        if "product: windows" in text and n % 2 == 0:
            text = "#pipeline: nxlog\n" + text
            if n % 4 == 0:
                text += "\n#events\n" + "\n".join(process[(n // 4 * 3) % len(process):][:3]) + "\n"
        c.add(name, text, 32768)
    # The unit tests' rules: whole rules as written, and detections in the tests' own rule around them.
    for i, s in enumerate(raw_strings("tests/unit/operators/sigma_test.cpp", "tests/unit/operators/sigma_correlation_test.cpp")):
        if "title:" in s or "correlation:" in s:
            c.add(f"unit-rule-{i}", s, 32768)
        elif "condition:" in s:
            c.add(f"unit-detection-{i}", "title: rule t\nid: t\nlevel: high\nlogsource: {product: windows}\ndetection:\n"
                  + s + "\n", 32768)
    base = ("title: Failed logon\nid: f1\nname: failed_logon\nlogsource: {product: windows, service: security}\n"
            "detection:\n    sel: {EventID: 4625}\n    condition: sel\n")
    events = "\n".join(json.dumps({"EventID": 4625, "TargetUserName": u, "IpAddress": "10.0.0.%d" % (k % 3)})
                       for k, u in enumerate(["bob", "bob", "alice", "bob", "eve"]))
    for kind, extra in [("event_count", "    group-by: [IpAddress]\n    timespan: 1m\n    condition: {gte: 2}\n"),
                        ("value_count", "    group-by: [IpAddress]\n    timespan: 1h\n    condition: {field: TargetUserName, gt: 1}\n"),
                        ("temporal", "    group-by: [IpAddress]\n    timespan: 10s\n"),
                        ("temporal_ordered", "    timespan: 10s\n")]:
        c.add(f"correlation-{kind}", base + f"---\ntitle: corr\nid: c-{kind}\nlevel: high\ncorrelation:\n    type: {kind}\n"
              f"    rules: [failed_logon, f1]\n{extra}\n#events\n{events}\n", 32768)
    c.done()


def tokenizer():
    c = Corpus("tokenizer")
    texts = [json.loads(l)["text"] for l in lines("tests/data/tokenizer_golden.jsonl")]
    # Every string that is not plain ASCII letters first (the tokenizer's hard cases), then a spread of the rest.
    hard = [t for t in texts if not re.fullmatch(r"[ -~]*", t)]
    rest = [t for t in texts if re.fullmatch(r"[ -~]*", t)]
    for i, t in enumerate(hard[::max(1, len(hard) // 100)][:100]):
        c.add(f"unicode-{i}", t, 4096)
    for i, t in enumerate(rest[::max(1, len(rest) // 90)][:90]):
        c.add(f"ascii-{i}", t, 4096)
    c.add("invalid-utf8", b"caf\xc3 \xff\xfe union\x00select \xed\xa0\x80", 4096)
    c.add("specials", "[CLS] a[SEP]b [UNK][MASK] [PAD]x [cls]", 4096)
    c.done()


def model_info():
    c = Corpus("model_info")
    real = read("models/web-attack-classifier/model.yaml").decode("utf-8")
    c.add("web-attack-classifier", real, 4096)
    minilm = ROOT / ".cache/models/all-minilm-l6-v2/model.yaml"
    embed = minilm.read_text() if minilm.exists() else (
        "name: all-minilm-l6-v2\nversion: 1\ntask: embed\nweights: model.pt\nsha256: " + "0" * 64 +
        "\ntokenizer:\n  vocab: vocab.txt\n  lowercase: true\n  max_len: 256\n")
    c.add("all-minilm-l6-v2", embed, 4096)
    sha = hashlib.sha256(b"weights").hexdigest()  # the target's model.pt
    edits = {
        "matching-sha": ("sha256: 7ac845b86f8b1cc2bae0e03a2c15d93c18f32fda322ba95cda19811b8bf19ed0", f"sha256: {sha}"),
        "max-len-huge": ("max_len: 64", "max_len: 100000000"),
        "max-len-1": ("max_len: 64", "max_len: 1"),
        "max-len-negative": ("max_len: 64", "max_len: -1"),
        "label-twice": ("labels: [norm, sqli,", "labels: [norm, sqli, sqli,"),
        "one-label": ("labels: [norm, sqli, xss, path-traversal, cmdi]", "labels: [norm]"),
        "weights-fifo": ("weights: model.pt", "weights: fifo.pt"),
        "weights-dir": ("weights: model.pt", "weights: dir.pt"),
        "weights-zero": ("weights: model.pt", "weights: /dev/zero"),
        "weights-missing": ("weights: model.pt", "weights: nope.pt"),
        "weights-empty": ("weights: model.pt", "weights: weights.bin"),
        "weights-outside": ("weights: model.pt", "weights: ../model/model.pt"),
        "vocab-fifo": ("vocab: vocab.txt", "vocab: fifo.pt"),
        "thresholds": ("labels: [norm, sqli, xss, path-traversal, cmdi]",
                       "labels: [norm, sqli, xss, path-traversal, cmdi]\nnegative_label: norm\n"
                       "thresholds: {sqli: 0.9, xss: 0.25, cmdi: 1}"),
        "threshold-bad": ("labels: [norm, sqli, xss, path-traversal, cmdi]",
                          "labels: [norm, sqli, xss, path-traversal, cmdi]\nthresholds: {sqli: 1.5, nope: 0.1, xss: .nan}"),
        "negative-unknown": ("labels: [norm, sqli, xss, path-traversal, cmdi]",
                             "labels: [norm, sqli, xss, path-traversal, cmdi]\nnegative_label: benign"),
        "task-unknown": ("task: classify", "task: regress"),
        "version-text": ("version: 1", "version: one"),
        "labels-map": ("labels: [norm, sqli, xss, path-traversal, cmdi]", "labels: {a: 1}"),
        "tokenizer-scalar": ("tokenizer:\n  vocab: vocab.txt\n  lowercase: true\n  max_len: 64", "tokenizer: bert"),
        "lowercase-text": ("lowercase: true", "lowercase: maybe"),
        # The precisions: int8 served from a regular file, from none, from another model's weights; names unknown.
        "precision-int8": ("precision: float32", "precision: int8"),
        "precision-int8-served": ("precision: float32\nvariants:\n  int8:\n    weights: model.int8.pt",
                                  "precision: int8\nvariants:\n  int8:\n    weights: weights.bin"),
        "precision-int8-fifo": ("precision: float32\nvariants:\n  int8:\n    weights: model.int8.pt",
                                "precision: int8\nvariants:\n  int8:\n    weights: fifo.pt"),
        "precision-unknown": ("precision: float32", "precision: fp16"),
        "variant-float32": ("variants:\n  int8:", "variants:\n  float32:"),
        "variant-stale": ("precision: float32\nvariants:\n  int8:\n    weights: model.int8.pt\n    sha256: ",
                          "precision: int8\nvariants:\n  int8:\n    weights: weights.bin\n    source_sha256: " + "0" * 64 +
                          "\n    sha256: "),
        "variant-engine": ("quantized_engine: qnnpack", "quantized_engine: avx512"),
        "variants-list": ("variants:\n  int8:", "variants: [int8]\nx:\n  int8:"),
    }
    for name, (old, new) in edits.items():
        assert old in real, name
        c.add(name, real.replace(old, new), 4096)
    c.add("empty", "", 4096)
    c.add("not-a-map", "- name\n", 4096)
    c.done()


def snapshot():
    tool = ROOT / "build-fuzz/snapshot_seeds"
    if not tool.exists():
        sys.exit("make_corpus.py: build build-fuzz/snapshot_seeds first (cmake --build build-fuzz --target snapshot_seeds)")
    c = Corpus("snapshot")
    subprocess.run([str(tool), str(c.dir), str(ROOT / "tests/data/http_params/train.csv")], check=True)
    files = sorted(c.dir.iterdir())
    c.names = {f.name for f in files}
    c.seen = {hashlib.sha1(f.read_bytes()).hexdigest() for f in files}
    c.bytes = sum(f.stat().st_size for f in files)
    # Damaged ones: cut short, the magic of another version.
    first = files[-1].read_bytes()
    c.add("truncated", first[:40], 32768)
    c.add("bad-magic", b"SOCSOL\x02\n" + first[8:], 32768)
    c.done()


def write_dict(target, words, comment):
    """A libFuzzer dictionary: tokens the mutator splices in whole."""
    words = sorted(set(words))
    esc = lambda w: "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else (
        "\\" + c if c in '"\\' else "\\x%02x" % ord(c)) for c in w)
    text = f"# {comment}\n# Written by tests/fuzz/make_corpus.py.\n" + "".join(f'"{esc(w)}"\n' for w in words)
    (ROOT / f"tests/fuzz/{target}.dict").write_text(text)
    print(f"tests/fuzz/{target}.dict: {len(words)} tokens")


def dicts():
    sources = [p.read_text(encoding="utf-8") for d in ("engine", "operators", "connectors")
               for p in sorted((ROOT / d).rglob("*.cpp"))]
    settings = {m for s in sources for m in re.findall(r'\{"([a-z_]+)", SettingType::', s)}
    types = {m for s in sources for m in re.findall(r'ComponentSpec\{\s*"([a-z_]+)"', s)}
    types |= {m for s in sources for m in re.findall(r'return ComponentSpec\{\s*"([a-z_]+)",', s)}
    yaml = [": ", "- ", "{", "}", "[", "]", ", ", "\n  ", "\n    ", "---\n", "...\n", "&a ", "*a", "<<: ", "!!str ",
            "'", '"', "|\n", ">\n", "#", "~", "null", "true", "false", "${", "${VAR:-x}", "$$", ".dlq", ".match",
            ".nomatch", "1KiB", "64MiB", "-1", "0", "1e9"]
    write_dict("topology", yaml + sorted(settings) + sorted(types) +
               ["sources", "operators", "sinks", "json", "lines", "all", "first", "last", "reject", "query_values",
                "url_decode", "lowercase", "nxlog", "evtx_json", "ecs", "none", "rules/web.yaml", "rules.yaml",
                "sigma/rules*", "../models/web-attack-classifier", "samples/web-access.jsonl"],
               "topology files: YAML syntax, section names, component types and every setting name")
    write_dict("rules", yaml + ["rules", "id", "pattern", "severity", "tags", "description", "info", "low", "medium",
                                "high", "critical", "(?i)", "\\s+", "[^>]*", "attack.t1190", "T1059.001", "TA0002"],
               "rules files: YAML syntax, the rule keys, severities, regex and ATT&CK fragments")
    values = sorted({m for m in re.findall(r'"([a-z0-9]+)"', (ROOT / "operators/sigma/values.cpp").read_text())
                     if len(m) > 1})
    write_dict("sigma", yaml + ["|" + v for v in values] + [
        "title", "id", "name", "status", "description", "author", "level", "logsource", "product", "category",
        "service", "detection", "condition", "selection", "filter", "keywords", "1 of ", "all of ", "them", " and ",
        " or ", "not ", "(", ")", "sel*", "correlation", "type", "event_count", "value_count", "temporal",
        "temporal_ordered", "rules", "group-by", "timespan", "gte", "gt", "lt", "lte", "eq", "neq", "field",
        "aliases", "generate", "windows", "process_creation", "Image", "CommandLine", "ParentImage", "EventID",
        "%Admins%", "%Servers%", "*", "?", "\\*", "10.0.0.0/8", "#pipeline: nxlog\n", "#pipeline: ecs\n",
        "\n#events\n", '{"EventID":1,"Image":"C:\\\\Windows\\\\System32\\\\cmd.exe"}', "5m", "1h", "30s"],
               "Sigma rules: YAML syntax, rule and correlation keys, modifiers, condition words, the target's markers")
    write_dict("json_parse", ["{", "}", "[", "]", ":", ",", '"', '""', '"a":', "true", "false", "null", "-0",
                              "1e400", "123456789012345678901234567890", "0.5E-3", "\\u0000", "\\ud83d\\ude00",
                              "\\ud800", "\\\"", "\\\\", "\xef\xbb\xbf", "\xff", "\xc3\xa9", '"source":{"ip":',
                              '"url":{"query":', '"a.b":', '"nested":'],
               "JSON tokens, number forms simdjson's DOM refuses, escapes and the target's pointers' keys")
    write_dict("parse", ["CEF:0|", "LEEF:1.0|", "LEEF:2.0|", "|", "\\|", "\\=", "=", "<13>", "<165>1 ",
                         " - - [", "] \"", "GET ", " HTTP/1.1\" ", "200 ", "\"-\"", "[exampleSDID@32473 ",
                         "eventSource=\"", "Nov 30 22:30:08 ", "2026-11-30T10:00:00Z", "30/Nov/2026:23:00:06 +0100",
                         "2026-11-30 10:00:00", "+01:00", "rt=", "src=", "dst=", "devTime=", "devTimeFormat=",
                         "ts=", "time:", ";", ",", "\t", "\"\"", "\n", "T-1", "1e3"],
               "text log formats: headers, delimiters, escapes and times of each")
    write_dict("model_info", yaml + ["name", "version", "task", "classify", "embed", "labels", "negative_label",
                                     "thresholds", "head", "weights", "sha256", "tokenizer", "vocab", "lowercase",
                                     "max_len", "model.pt", "vocab.txt", "fifo.pt", "dir.pt", "weights.bin",
                                     "/dev/zero", "../", "512", "2", "precision", "variants", "float32", "int8",
                                     "source_sha256", "quantized_engine", "qnnpack", "onednn", "model.int8.pt"],
               "model.yaml: keys, tasks and the file names the target's model directory holds")


TARGETS = {f.__name__: f for f in (json_parse, parse, topology, rules, sigma, tokenizer, model_info, snapshot, dicts)}

if __name__ == "__main__":
    for name in sys.argv[1:] or TARGETS:
        TARGETS[name]()
