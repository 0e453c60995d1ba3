#!/usr/bin/env python3
"""The baseline socstream is compared with: the Kafka consumer a team writes
today to put ML on its security logs. It does the work of
config/kafka-redis.yaml, the usual Python way:

  confluent-kafka consumer (manual commits) -> json.loads -> the same rules
  file with Python's `re` on each decoded query value -> the same TorchScript
  model through PyTorch, in batches, with Hugging Face's (fast) tokenizer ->
  alert documents to a Redis stream (redis-py; written once per alert id, as
  socstream's idempotent sink) and to a Kafka topic -> offsets committed after
  Redis and Kafka confirmed.

Alerts carry the same deterministic ids and fields as socstream's, so the
harness (bench/compare.sh) can check that both raised the same alerts.
Prints one JSON line: events, seconds, CPU seconds, alerts per label.
"""
import argparse
import hashlib
import json
import os
import re
import resource
import sys
import time
import urllib.parse

import redis
import torch
import yaml
from confluent_kafka import Consumer, Producer, KafkaException
from transformers import BertTokenizerFast

FIELDS = {
    "timestamp": ("@timestamp",),
    "source_ip": ("source", "ip"),
    "method": ("http", "request", "method"),
    "path": ("url", "path"),
    "query": ("url", "query"),
    "user_agent": ("user_agent", "original"),
    "status": ("http", "response", "status_code"),
}
SEVERITIES = ["info", "low", "medium", "high", "critical"]
# The check-and-write of socstream's redis sink when this comparison was made:
# SET NX on the id, then XADD (the sink now writes first and remembers ids in
# time-bucket hashes: connectors/redis_sink.cpp).
IDEMPOTENT_XADD = """
local written = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'alert', ARGV[i])
    written = written + 1
  end
end
return written
"""


def alert_id(parts):
    # As socstream's: 128 bits of SHA-256 over the NUL-separated parts (docs/alerts.md).
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def nest(doc, path, value):
    for k in path[:-1]:
        doc = doc.setdefault(k, {})
    doc[path[-1]] = value


def dig(doc, path):
    for k in path:
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    return doc


def query_values(query):
    """As socstream's query_values + url_decode transforms: bytes, '+' as space."""
    for pair in query.split("&"):
        eq = pair.find("=")
        v = pair if eq < 0 else pair[eq + 1 :]
        v = urllib.parse.unquote_to_bytes(v.replace("+", " ")).decode("utf-8", "surrogateescape")
        if v:
            yield v


class Model:
    def __init__(self, directory, max_batch):
        meta = yaml.safe_load(open(os.path.join(directory, "model.yaml")))
        self.name, self.version, self.labels = meta["name"], meta["version"], meta["labels"]
        self.negative = self.labels.index(meta.get("negative_label", self.labels[0]))
        self.thresholds = [float((meta.get("thresholds") or {}).get(l, 0.5)) for l in self.labels]
        self.max_len = meta["tokenizer"]["max_len"]
        self.tok = BertTokenizerFast(os.path.join(directory, meta["tokenizer"]["vocab"]), do_lower_case=True)
        self.module = torch.jit.load(os.path.join(directory, meta["weights"])).eval()
        self.max_batch = max_batch

    def probs(self, texts):
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.max_batch):
                enc = self.tok(texts[i : i + self.max_batch], truncation=True, max_length=self.max_len,
                               padding="longest", return_tensors="pt")
                out += torch.softmax(self.module(enc["input_ids"], enc["attention_mask"]), -1).tolist()
        return out

    def verdict(self, rows):
        """The event's verdict from its values' probabilities: the transformer operator's rule."""
        best = None
        for p in rows:
            top = max(range(len(p)), key=p.__getitem__)
            positive = top != self.negative and p[top] >= self.thresholds[top]
            key = (positive, p[top] if positive else 1 - p[self.negative])
            if best is None or key > best[0]:
                best = (key, top, p[top], positive)
        return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", default=os.environ.get("KAFKA_BROKERS", "127.0.0.1:19092"))
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", "16379")))
    ap.add_argument("--stream", required=True, help="the Redis stream for alerts")
    ap.add_argument("--alerts-topic", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--poll-batch", type=int, default=2048)
    ap.add_argument("--no-prefilter", action="store_true", help="the model on every event")
    ap.add_argument("--events", type=int, required=True, help="stop after this many events")
    args = ap.parse_args()

    rules = [(r["id"], SEVERITIES.index(r.get("severity", "medium")), r.get("tags", []),
              re.compile(r["pattern"], re.ASCII)) for r in yaml.safe_load(open(args.rules))["rules"]]
    model = Model(args.model, args.max_batch)
    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([args.topic])
    producer = Producer({"bootstrap.servers": args.brokers, "enable.idempotence": True, "linger.ms": 5})
    r = redis.Redis(port=args.redis_port)
    write = r.register_script(IDEMPOTENT_XADD)
    detector = "web-attacks-model" if args.no_prefilter else "web-attacks"
    per_label = {}
    seen = 0
    started = None
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)

    while seen < args.events:
        msgs = consumer.consume(num_messages=args.poll_batch, timeout=1.0)
        if not msgs:
            continue
        started = started or time.time()
        candidates = []  # (msg, fields, matched rules, values)
        for m in msgs:
            if m.error():
                raise KafkaException(m.error())
            seen += 1
            try:
                doc = json.loads(m.value())
            except ValueError:
                continue  # socstream sends these to its dead-letter topic; not alerts either way
            if not isinstance(doc, dict):
                continue
            fields = {k: dig(doc, p) for k, p in FIELDS.items()}
            values = list(query_values(fields["query"])) if isinstance(fields["query"], str) else []
            hits = []
            if not args.no_prefilter:
                hits = [rule for rule in rules if any(rule[3].search(v) for v in values)]
                if not hits:
                    continue
            if values:
                candidates.append((m, fields, hits, values))
        texts = [v for c in candidates for v in c[3]]
        probs = model.probs(texts)
        at = 0
        keys, docs = [args.stream], []
        detected_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for m, fields, hits, values in candidates:
            rows = probs[at : at + len(values)]
            at += len(values)
            _, label, score, positive = model.verdict(rows)
            if not positive:
                continue
            aid = alert_id([detector, "access", m.topic(), str(m.partition()), str(m.offset()), str(m.timestamp()[1])])
            severity = max([h[1] for h in hits] + [SEVERITIES.index("medium")])
            # The same ECS document socstream writes (docs/alerts.md), less the rule metadata it looks up.
            alert = {
                "@timestamp": fields["timestamp"] or detected_at, "ecs": {"version": "9.4.0"},
                "event": {"kind": "alert", "id": aid, "created": detected_at, "severity": severity + 1,
                          "reason": f"{model.labels[label]} ({score:.3f})"},
                "socstream": {
                    "detector": detector, "severity": SEVERITIES[severity],
                    "rules": [{"id": h[0], "severity": SEVERITIES[h[1]], "tags": h[2]} for h in hits],
                    "model": {"name": model.name, "version": model.version, "label": model.labels[label],
                              "score": round(score, 6)},
                    "source": {"name": "access", "stream": m.topic(), "partition": m.partition(),
                               "offset": m.offset()},
                },
            }
            for k in ("source_ip", "method", "path", "query", "user_agent", "status"):
                if fields[k] is not None:
                    nest(alert, FIELDS[k], fields[k])
            text = json.dumps(alert, separators=(",", ":"))
            keys.append("baseline:seen:" + aid)
            docs.append(text)
            producer.produce(args.alerts_topic, key=aid, value=text, on_delivery=delivered)
            per_label[model.labels[label]] = per_label.get(model.labels[label], 0) + 1
        for i in range(1, len(keys), 256):
            write(keys=[args.stream] + keys[i : i + 256], args=[7 * 86400] + docs[i - 1 : i + 255])
        producer.flush()
        if failures:
            raise KafkaException(failures[0])
        consumer.commit(asynchronous=False)  # only after Redis and Kafka confirmed
    seconds = time.time() - (started or time.time())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    consumer.close()
    print(json.dumps({"events": seen, "seconds": round(seconds, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                      "peak_rss_mb": round(usage.ru_maxrss / 1024), "alerts_per_label": per_label}))


if __name__ == "__main__":
    sys.exit(main())
