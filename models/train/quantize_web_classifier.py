#!/usr/bin/env python3
"""Makes the int8 variant of a web-classifier model directory (one that
train_web_classifier.py wrote): dynamic int8 quantisation of the encoder's
linear layers, the head left in float32 so that `learn: true` still trains it.

    $(scripts/python_env.sh) models/train/quantize_web_classifier.py MODEL_DIR [--engine auto|qnnpack|onednn]
                                                                    [--serve float32|int8]

Writes MODEL_DIR/model.int8.pt (TorchScript) and rewrites model.yaml's
`precision:` and `variants:` (every other line is kept): the int8 file's
sha256, the float32 file it was made from (the engine refuses an int8 file
made from other weights), and the quantized engine it was packed for. Re-run it
after every retraining. `--serve` sets which precision model.yaml serves
(default: what it says now, else float32).

Why the encoder is rebuilt: torch 1.13's nn.TransformerEncoderLayer reads
`self_attn.out_proj.weight` and `linear1.weight` as tensors (its fused
inference path), which a quantised linear layer no longer has, so a quantised
stock layer cannot be scripted; and nn.MultiheadAttention keeps its q/k/v
projection as a bare parameter that quantize_dynamic would not touch. The
rebuild computes the same function with plain nn.Linear layers (checked
against the TorchScript file before quantising), so all four projections of
every layer are quantised.
"""
import argparse
import copy
import hashlib
import math
import os
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from train_web_classifier import Encoder  # noqa: E402

INT8_FILE = "model.int8.pt"
BLOCK_MARK = "# Precisions (models/train/quantize_web_classifier.py)"
ENGINES = ["qnnpack", "onednn"]
# What the quantised model's outputs may differ from the float32 file's on
# random ids before the script refuses the rebuild (int8 rounding, not a bug).
REBUILD_TOLERANCE = 1e-4


class EncoderLayer(nn.Module):
    """One nn.TransformerEncoderLayer (ReLU, batch first) as plain nn.Linear
    layers: qkv (the attention's in_proj), out (out_proj), linear1, linear2."""

    def __init__(self, src):
        super().__init__()
        dim = src.linear1.in_features
        self.heads = src.self_attn.num_heads
        self.norm_first = src.norm_first
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        with torch.no_grad():
            self.qkv.weight.copy_(src.self_attn.in_proj_weight)
            self.qkv.bias.copy_(src.self_attn.in_proj_bias)
            self.out.weight.copy_(src.self_attn.out_proj.weight)
            self.out.bias.copy_(src.self_attn.out_proj.bias)
        self.linear1, self.linear2 = src.linear1, src.linear2
        self.norm1, self.norm2 = src.norm1, src.norm2

    def attend(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        weights = scores.masked_fill(pad.view(b, 1, 1, t), float("-inf")).softmax(-1)
        return self.out(torch.matmul(weights, v).transpose(1, 2).reshape(b, t, d))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(torch.relu(self.linear1(x)))

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            x = x + self.attend(self.norm1(x), pad)
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + self.attend(x, pad))
        return self.norm2(x + self.feed_forward(x))


class QuantizableEncoder(nn.Module):
    """train_web_classifier.Encoder with its encoder layers rebuilt
    (EncoderLayer); the same submodule names elsewhere, `head` among them."""

    def __init__(self, enc):
        super().__init__()
        self.tok, self.pos, self.norm, self.head = enc.tok, enc.pos, enc.norm, enc.head
        self.layers = nn.ModuleList([EncoderLayer(layer) for layer in enc.encoder.layers])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(positions)
        pad = attention_mask == 0
        for layer in self.layers:
            x = layer(x, pad)
        x = self.norm(x)
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def float_encoder(scripted, head):
    """The float nn.Module of train_web_classifier.py, rebuilt from the TorchScript's state_dict."""
    sd = scripted.state_dict()
    names = sorted({int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers.")})
    first = getattr(scripted.encoder.layers, "0")
    vocab, dim = sd["tok.weight"].shape
    enc = Encoder(vocab, dim, len(names), first.self_attn.num_heads, sd["encoder.layers.0.linear1.weight"].shape[0],
                  sd["pos.weight"].shape[0], sd[head + ".weight"].shape[0])
    if not first.norm_first:
        for layer in enc.encoder.layers:
            layer.norm_first = False
    enc.load_state_dict(sd, strict=True)
    return enc.eval()


def sample_batches(max_len, per_size, seed=20261121):
    """Random ids of varied lengths at batch 1, 8 and 32, as the engine sends
    them: padded to the batch's longest, every other row shorter."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in (1, 8, 32):
        for _ in range(per_size):
            t = int(torch.randint(3, max_len + 1, (1,), generator=g))
            ids = torch.randint(1000, 30000, (b, t), generator=g)
            mask = torch.ones(b, t, dtype=torch.long)
            for r in range(1, b, 2):
                cut = int(torch.randint(1, t + 1, (1,), generator=g))
                mask[r, cut:] = 0
                ids[r, cut:] = 0
            out.append((ids, mask))
    return out


def seconds(module, batches, engine):
    """Median of 3 rounds, one pass over each batch (one intra-op thread, as
    the engine runs). Every pass is of other ids: onednn keeps its int8 kernels
    by the input's quantisation scale, so one batch repeated measures a cache
    that traffic never hits (measured here: 2.5-3x faster than fresh inputs)."""
    torch.backends.quantized.engine = engine
    rounds = []
    with torch.inference_mode():
        for ids, mask in batches[:: max(1, len(batches) // 8)]:
            module(ids, mask)
        for _ in range(3):
            t0 = time.perf_counter()
            for ids, mask in batches:
                module(ids, mask)
            rounds.append(time.perf_counter() - t0)
    return statistics.median(rounds)


class Int8Linear(torch.ao.nn.quantized.dynamic.Linear):
    """torch's dynamic int8 Linear without reduce_range: torch 1.13's asks
    every pass for 7-bit activations (for fbgemm without VNNI), which qnnpack
    ignores with a warning per pass (a flood in the engine's log) and onednn
    does not need. The engines packed for here are those two only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, False).to(x.dtype)


def quantize(model, engine, head):
    torch.backends.quantized.engine = engine
    spec = {name: torch.quantization.default_dynamic_qconfig
            for name, m in model.named_modules() if isinstance(m, nn.Linear) and name != head and not name.startswith(head + ".")}
    q = torch.quantization.quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8, mapping={nn.Linear: Int8Linear})
    return torch.jit.script(q.eval()), sorted(spec)


def rewrite_yaml(text, block):
    """model.yaml without its previous precision:/variants: (and the comment this script put above them), plus the new block."""
    out, state = [], "keep"
    for line in text.splitlines():
        if line.startswith(BLOCK_MARK):
            state = "comment"
        elif re.match(r"^(precision|variants):", line):
            state = "block"
        elif state == "block" and (line.startswith(" ") or not line.strip()):
            pass
        elif state == "comment" and line.startswith("#"):
            pass
        else:
            state = "keep"
        if state == "keep":
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out + block) + "\n"


def main():
    # TorchScript writes a module's constants in set order, which string
    # hashing randomises per process: fixed, the same weights give the same bytes (and sha256).
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--engine", choices=["auto"] + ENGINES, default="auto",
                    help="the quantized engine to pack for (auto: the faster here)")
    ap.add_argument("--serve", choices=["float32", "int8"], help="the precision model.yaml serves (default: unchanged)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yaml_path = os.path.join(args.model_dir, "model.yaml")
    text = open(yaml_path, encoding="utf-8").read()
    meta = yaml.safe_load(text)
    weights = os.path.join(args.model_dir, meta["weights"])
    got = sha256(weights)
    if got != meta["sha256"]:
        sys.exit(f"{weights}: sha256 {got} does not match model.yaml's {meta['sha256']}")
    head = meta.get("head") or sys.exit(f"{yaml_path}: names no head (the layer kept in float32)")
    max_len = int(meta["tokenizer"]["max_len"])

    scripted = torch.jit.load(weights).eval()
    rebuilt = QuantizableEncoder(float_encoder(scripted, head)).eval()
    batches = sample_batches(max_len, 40)
    with torch.no_grad():
        worst = max((scripted(i, m) - rebuilt(i, m)).abs().max().item() for i, m in batches)
    if worst > REBUILD_TOLERANCE:
        sys.exit(f"the rebuilt encoder differs from {weights} by {worst:.2e} in the logits: not the Encoder of train_web_classifier.py?")
    print(f"rebuilt float32 encoder: largest logit difference from {meta['weights']} {worst:.1e}")

    engines = [e for e in ENGINES if e in torch.backends.quantized.supported_engines]
    if args.engine != "auto":
        engines = [args.engine]
    candidates, timing = {}, {}
    float_s = seconds(scripted, batches, engines[0])
    for e in engines:
        candidates[e], quantised = quantize(rebuilt, e, head)
        timing[e] = seconds(candidates[e], batches, e)
        print(f"{e}: {timing[e] * 1e3:.0f} ms for {len(batches)} passes at batch 1, 8 and 32 (float32 {float_s * 1e3:.0f} ms)")
    engine = min(timing, key=timing.get)
    q = candidates[engine]
    torch.backends.quantized.engine = engine
    with torch.no_grad():
        agree = sum(int((scripted(i, m).argmax(-1) == q(i, m).argmax(-1)).sum()) for i, m in batches)
        rows = sum(i.size(0) for i, _ in batches)
        diff = max((scripted(i, m).softmax(-1) - q(i, m).softmax(-1)).abs().max().item() for i, m in batches)
    print(f"int8 ({engine}): quantised {', '.join(quantised)}; head {head} kept in float32")
    print(f"int8 against float32 on {rows} random rows: top label agrees on {agree}, largest probability difference {diff:.3f}")

    out = os.path.join(args.model_dir, INT8_FILE)
    q.save(out)
    serve = args.serve or meta.get("precision", "float32")
    block = [
        BLOCK_MARK + ": `weights:` above is float32;",
        "# `variants:` other precisions of the same model, `precision:` the one served",
        "# (a transformer's `precision:` overrides it). Figures: bench/RESULTS.md,",
        "# \"Quantised inference (int8)\".",
        f"precision: {serve}",
        "variants:",
        "  int8:",
        f"    weights: {INT8_FILE}",
        f"    sha256: {sha256(out)}",
        f"    source_sha256: {meta['sha256']}",
        f"    quantized_engine: {engine}",
    ]
    open(yaml_path, "w", encoding="utf-8").write(rewrite_yaml(text, block))
    print(f"wrote {out} and {yaml_path}:")
    print("\n".join(block[4:]))


if __name__ == "__main__":
    main()
