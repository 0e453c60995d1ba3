#!/usr/bin/env python3
"""The reference implementation of socstream's alert ids (docs/alerts.md), for
consumers that recompute them, and for the tests that hold the engine to it.

    alert_id.py DETECTOR SOURCE STREAM PARTITION OFFSET ORIGIN [RULE]
    alert_id.py --file-origin PATH      # a file's origin, as the file source computes it

An alert id is the first 32 hex digits (128 bits) of SHA-256 over the
detector, the source component's name, the stream (Kafka topic, or the file
as configured), the partition, the offset and the origin (numbers in decimal),
separated by NUL bytes; with `per_rule`, a NUL and the rule's id follow.
The origin tells instances of a stream apart: for a file, the first 16 hex
digits of SHA-256 over "DEVICE:INODE:" and its first line (up to 256 bytes, without
the newline), as a number; for Kafka, the message's timestamp in milliseconds;
for stdin, a random number per run.
"""
import hashlib
import os
import sys


def alert_id(detector, source, stream, partition, offset, origin, rule=""):
    parts = [detector, source, stream, str(partition), str(offset), str(origin)]
    if rule:
        parts.append(rule)
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def file_origin(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        head = f.read(256)
    head = head.split(b"\n", 1)[0]
    digest = hashlib.sha256(f"{st.st_dev}:{st.st_ino}:".encode() + head).hexdigest()
    return int(digest[:16], 16)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--file-origin":
        print(file_origin(sys.argv[2]))
    elif len(sys.argv) in (7, 8):
        print(alert_id(*sys.argv[1:]))
    else:
        sys.exit(__doc__)
