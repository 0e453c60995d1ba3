#!/usr/bin/env python3
"""Realistic benign HTTP parameter values, for measuring false positives beyond
the CSIC-derived normal rows of the HTTP parameter data set (which are mostly
Spanish shop forms). Each value has a category; the mix follows what query
strings of shops, search pages, APIs and login forms carry. Faker (MIT) makes
names, addresses, text and identifiers in five locales; the rest is templates.
It includes benign text that looks like attack syntax, because real users
write it: apostrophes (O'Brien, men's), ampersands, slashes and paths, URLs as
redirect targets, SQL-ish English (select, union, order by, drop), math, code
search terms, JSON filters, base64 and JWT tokens.

Written once, before any detector was measured on it; not changed after seeing
their false positives (bench/web/README.md, the protocol).
    $(scripts/python_env.sh) bench/web/gen_normal_values.py [COUNT] [SEED]
"""
import base64
import datetime
import json
import os
import random
import sys

from faker import Faker

LOCALES = ["en_US", "es_ES", "fr_FR", "de_DE", "it_IT"]

SEARCH_EXTRA = [
    "men's shoes", "women's jackets", "kids' toys", "o'neill wetsuit", "levi's 501", "rock & roll", "salt & pepper",
    "black & white photo", "c++ tutorial", "c# list sort", "what is 2+2", "50% off", "select a seat", "union station",
    "order by phone", "drop shipping", "table for two", "insert coin", "delete account", "update firmware",
    "where is my order", "group by date excel", "having a baby", "from paris to rome", "script writing course",
    "alert dialog android", "javascript array map", "python list comprehension", "sql join tutorial",
    "select * from users tutorial", "bash for loop", "cat food", "ls engine", "ping pong table", "echo dot",
    "curl hair tips", "ssh keys github", "how to use grep", "a/b testing", "24/7 support", "1/2 inch pipe",
    "usb-c to hdmi", "t-shirt size m", "rock'n'roll", "it's complicated", "don't stop me now", "l'oréal paris",
    "crème brûlée", "straße", "smörgåsbord", "naïve bayes", "¿dónde está?", "日本語", "emoji 😀", "<3", ":-)",
    "x > y", "a < b", "if (a == b)", "f(x) = x^2", "1=1", "true or false", "null", "none", "n/a", "tbd", "...",
    "etc.", "e.g.", "#hashtag", "@username", "$100", "€50", "c:\\users manual", "../ punctuation",
]

SORTS = ["price", "price desc", "price:asc", "-created_at", "name,asc", "rating desc,price asc", "relevance",
         "date_desc", "popularity", "updated_at:desc", "id"]
EXTS = ["pdf", "jpg", "png", "docx", "xlsx", "csv", "zip", "mp4", "txt", "json"]


# Faker's dates end at the wall clock unless told otherwise: a fixed end keeps a
# seed's values the same from run to run (training must be reproducible). The
# committed sets were drawn before this was fixed, at a clock of their own.
NOW = datetime.datetime(2026, 11, 1)


def generate(count, seed):
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed * 100 + i)

    def fk():
        return fakers[rng.choice(LOCALES)]

    def token(n):
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))

    def jwt():
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps({"sub": rng.randint(1, 10**6), "iat": rng.randint(1.6e9, 1.8e9)}).encode()).rstrip(b"=").decode()
        return f"{head}.{body}.{token(43)}"

    makers = [
        ("search", 18, lambda: rng.choice([fk().word(), " ".join(fk().words(rng.randint(2, 5))), fk().catch_phrase() if hasattr(fk(), "catch_phrase") else fk().word()])),
        # about 1% of values: each of these strings a few times in 20,000
        ("search-tricky", 1, lambda: rng.choice(SEARCH_EXTRA)),
        ("sentence", 5, lambda: fk().sentence(nb_words=rng.randint(4, 14))),
        ("name", 8, lambda: rng.choice([fk().first_name(), fk().last_name(), fk().name(), "O'" + fk().last_name(), fk().last_name() + "-" + fk().last_name()])),
        ("email", 5, lambda: rng.choice([fk().email(), fk().free_email(), fk().user_name() + "+" + fk().word() + "@gmail.com"])),
        ("username", 4, lambda: rng.choice([fk().user_name(), fk().user_name() + str(rng.randint(1, 999)), fk().user_name() + "_" + fk().word()])),
        ("password", 3, lambda: fk().password(length=rng.randint(8, 20), special_chars=True)),
        ("address", 6, lambda: rng.choice([fk().street_address(), fk().address().replace("\n", ", "), fk().city(), fk().postcode(), fk().country()])),
        ("phone", 3, lambda: fk().phone_number()),
        ("number", 8, lambda: rng.choice([str(rng.randint(0, 100)), str(rng.randint(1, 10**9)), f"{rng.uniform(0, 2000):.2f}", f"-{rng.randint(1, 99)}", f"{rng.randint(1, 99)},{rng.randint(0, 99):02d}"])),
        ("date", 5, lambda: rng.choice([fk().date(end_datetime=NOW), fk().date(pattern="%d/%m/%Y", end_datetime=NOW),
                                         fk().iso8601(end_datetime=NOW), fk().time(end_datetime=NOW),
                                         fk().date(pattern="%b %d, %Y", end_datetime=NOW)])),
        ("id", 6, lambda: rng.choice([fk().uuid4(), token(24), "%032x" % rng.getrandbits(128), f"ORD-{rng.randint(10**5, 10**6)}", f"SKU{rng.randint(1000, 9999)}-{token(3).upper()}", fk().ean13()])),
        ("token", 4, lambda: rng.choice([jwt(), base64.b64encode(fk().binary(length=rng.randint(8, 48))).decode(), fk().sha1(), fk().md5()])),
        ("url", 5, lambda: rng.choice([fk().url(), fk().url() + fk().uri_path(), "https://" + fk().domain_name() + "/" + fk().uri_path() + "?ref=" + fk().word(), "/" + fk().uri_path(), "/account/orders?page=" + str(rng.randint(1, 9))])),
        ("path", 4, lambda: rng.choice([fk().file_name(extension=rng.choice(EXTS)), fk().file_path(depth=rng.randint(1, 3)), "images/" + fk().word() + " " + str(rng.randint(1, 9)) + ".jpg", "docs/" + fk().word() + "/" + fk().file_name(extension="pdf")])),
        ("enum", 5, lambda: rng.choice(["on", "off", "true", "false", "yes", "no", "1", "0", "en", "es-ES", "fr_FR", "EUR", "USD", "grid", "list", "asc", "desc", "all", "none", "M", "XL", "red", "blue"])),
        ("sort-filter", 4, lambda: rng.choice([rng.choice(SORTS), f"price:[{rng.randint(0, 50)} TO {rng.randint(51, 500)}]", f"color:{fk().color_name().lower()}", json.dumps({"category": fk().word(), "min": rng.randint(1, 9)}), f"{fk().word()},{fk().word()},{fk().word()}", f"tags={fk().word()}|{fk().word()}"])),
        ("ua-like", 2, lambda: fk().user_agent()),
        ("text", 3, lambda: fk().paragraph(nb_sentences=rng.randint(1, 3))),
        ("color-hex", 1, lambda: fk().hex_color()),
        ("ip", 2, lambda: rng.choice([fk().ipv4(), fk().ipv6(), fk().mac_address()])),
    ]
    weights = [m[1] for m in makers]
    out = []
    while len(out) < count:
        cat, _, make = rng.choices(makers, weights)[0]
        v = make()
        if v:
            out.append((v, cat))
    return out


if __name__ == "__main__":
    import csv
    # Faker draws from sets of strings: a seed's values need a fixed hash seed too.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    w = csv.writer(sys.stdout)
    for row in generate(n, seed):
        w.writerow(row)
