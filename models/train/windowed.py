"""The engine's scoring of a text, in PyTorch, for the scripts that make its
oracles (make_classifier_golden.py, make_sample_verdicts.py): a text longer
than max_len tokens is cut into windows of max_len - 2 word pieces overlapping
by half (the last one ending at the text's end), a batch is padded to its
longest window, and a text takes its window least likely normal (label 0)."""
import os
import re

import torch
from transformers import BertTokenizer


def load(model_dir):
    """The model, its tokenizer and its max_len (its position table's size, as the engine reads it)."""
    model = torch.jit.load(os.path.join(model_dir, "model.pt")).eval()
    tok = BertTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
    yaml = open(os.path.join(model_dir, "model.yaml")).read()
    max_len = int(re.search(r"^\s*max_len:\s*(\d+)", yaml, re.M).group(1))
    return model, tok, max_len


def score(model, tok, max_len, batch):
    """Per text of the batch, the probabilities of its most suspicious window."""
    width = max_len - 2
    windows, owner = [], []
    for k, t in enumerate(batch):
        ids = tok.convert_tokens_to_ids(tok.tokenize(t))
        starts = [0]
        if len(ids) > width:
            starts = list(range(0, len(ids) - width, width // 2)) + [len(ids) - width]
        for st in starts:
            windows.append([tok.cls_token_id] + ids[st : st + width] + [tok.sep_token_id])
            owner.append(k)
    longest = max(len(w) for w in windows)
    input_ids = torch.tensor([w + [tok.pad_token_id] * (longest - len(w)) for w in windows])
    mask = torch.tensor([[1] * len(w) + [0] * (longest - len(w)) for w in windows])
    best = [None] * len(batch)
    with torch.no_grad():
        for k, p in zip(owner, torch.softmax(model(input_ids, mask), -1).tolist()):
            if best[k] is None or p[0] < best[k][0]:  # label 0, norm, is the negative label
                best[k] = p
    return best
