"""What bench/web's scripts share: the sets' files and how a parameter value
travels (percent-encoded in a query string, decoded once by the server)."""
import csv
import os
import urllib.parse

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CLASSES = ["sqli", "xss", "path-traversal", "cmdi"]


def encode(value):
    """A value as a client puts it in a query string (UTF-8, every reserved byte escaped)."""
    return urllib.parse.quote(value, safe="")


def decode(wire):
    """The bytes the application sees: one application/x-www-form-urlencoded decoding."""
    return urllib.parse.unquote_to_bytes(wire.replace("+", " "))


def text(wire):
    """The decoded value as text, for a model (bytes that are no UTF-8 replaced)."""
    return decode(wire).decode("utf-8", errors="replace")


def load(name):
    with open(os.path.join(DATA, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
