#!/usr/bin/env python3
"""Write the PyTorch reference fixtures for Katechon's fusion network.

The network is the part of the classifier after the image encoder: metadata encoder,
image projection, mutual-attention decoder and head. Its parameter names match
Katechon's exactly, and attention runs over the tokens of each sample only.

For a binary case (BCE with pos_weight) and a multiclass case (cross-entropy with
label smoothing) the script writes, as JSON, the parameters, inputs, logits, loss, every
parameter gradient, and the parameters after three torch.optim.AdamW steps taken on the
same inputs.

Usage: python3 scripts/reference/make_fusion_fixture.py
(writes Tests/KatechonModelTests/Fixtures/fusion_{binary,multiclass}.json)
"""
import json
import math
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "Tests/KatechonModelTests/Fixtures"

BATCH = 3
IMAGE_TOKENS = 5
IMAGE_WIDTH = 16
METADATA_WIDTH = 11
META_TOKENS = 3
FUSION_WIDTH = 8
FUSION_HEADS = 2
METADATA_HIDDEN = 12
HEAD_HIDDEN = 10
LAYER_NORM_EPS = 1e-6
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 0.05
ADAMW_STEPS = 3


class CrossAttention(nn.Module):
    """Queries from one stream attend over keys and values of another, per sample."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.norm_kv = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.q = nn.Linear(width, width)
        self.k = nn.Linear(width, width, bias=False)
        self.v = nn.Linear(width, width)
        self.proj = nn.Linear(width, width)

    def forward(self, queries, keys_values):
        batch, nq, width = queries.shape
        nk = keys_values.shape[1]
        head_dim = width // self.heads
        normed_kv = self.norm_kv(keys_values)
        q = self.q(self.norm_q(queries)).reshape(batch, nq, self.heads, head_dim).transpose(1, 2)
        k = self.k(normed_kv).reshape(batch, nk, self.heads, head_dim).transpose(1, 2)
        v = self.v(normed_kv).reshape(batch, nk, self.heads, head_dim).transpose(1, 2)
        # Scores are [B, H, Nq, Nk]: no sample attends to another sample's keys.
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        attended = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, nq, width)
        return self.proj(attended)


class MetadataEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(METADATA_WIDTH, METADATA_HIDDEN)
        self.fc2 = nn.Linear(METADATA_HIDDEN, META_TOKENS * FUSION_WIDTH)

    def forward(self, metadata):
        tokens = self.fc2(F.gelu(self.fc1(metadata)))
        return tokens.reshape(metadata.shape[0], META_TOKENS, FUSION_WIDTH)


class MutualAttentionDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_attn = CrossAttention(FUSION_WIDTH, FUSION_HEADS)
        self.metadata_attn = CrossAttention(FUSION_WIDTH, FUSION_HEADS)

    def forward(self, image_tokens, metadata_tokens):
        image_stream = torch.cat([image_tokens, self.image_attn(image_tokens, metadata_tokens)], dim=-1)
        metadata_stream = torch.cat(
            [metadata_tokens, self.metadata_attn(metadata_tokens, image_tokens)], dim=-1)
        return torch.cat([image_stream.mean(dim=1), metadata_stream.mean(dim=1)], dim=-1)


class ClassificationHead(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.fc1 = nn.Linear(4 * FUSION_WIDTH, HEAD_HIDDEN)
        self.fc2 = nn.Linear(HEAD_HIDDEN, classes)

    def forward(self, features):
        return self.fc2(F.gelu(self.fc1(features)))


class FusionNetwork(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.metadata_encoder = MetadataEncoder()
        self.image_proj = nn.Linear(IMAGE_WIDTH, FUSION_WIDTH)
        self.decoder = MutualAttentionDecoder()
        self.head = ClassificationHead(classes)

    def forward(self, image_tokens, metadata):
        metadata_tokens = self.metadata_encoder(metadata)
        return self.head(self.decoder(self.image_proj(image_tokens), metadata_tokens))


def randomise(model):
    """Move norms and biases away from 1 and 0 so their gradients are exercised."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1 and ".norm_" in name and name.endswith(".weight"):
                parameter.copy_(1 + 0.2 * torch.randn_like(parameter))
            elif parameter.ndim == 1:
                parameter.copy_(0.2 * torch.randn_like(parameter))


def make_case(name, classes, labels, pos_weight, label_smoothing, seed):
    torch.manual_seed(seed)
    model = FusionNetwork(classes)
    randomise(model)
    image_tokens = torch.randn(BATCH, IMAGE_TOKENS, IMAGE_WIDTH)
    metadata = torch.randn(BATCH, METADATA_WIDTH)
    label_tensor = torch.tensor(labels)

    def loss_of(logits):
        if classes == 1:
            weight = None if pos_weight is None else torch.tensor([pos_weight])
            return F.binary_cross_entropy_with_logits(
                logits[:, 0], label_tensor.float(), pos_weight=weight)
        return F.cross_entropy(logits, label_tensor, label_smoothing=label_smoothing)

    parameters = [{"name": n, "shape": list(p.shape), "values": p.detach().flatten().tolist()}
                  for n, p in model.named_parameters()]

    logits = model(image_tokens, metadata)
    loss = loss_of(logits)
    loss.backward()
    gradients = {n: p.grad.flatten().tolist() for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        largest = p.grad.abs().max().item()
        assert largest > 1e-7, f"{n}: gradient is all but zero ({largest}); AdamW would amplify noise"

    decayed = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.endswith(".bias")]
    not_decayed = [p for n, p in model.named_parameters() if p.ndim <= 1 or n.endswith(".bias")]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": WEIGHT_DECAY},
         {"params": not_decayed, "weight_decay": 0.0}],
        lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)
    optimizer.zero_grad()
    for _ in range(ADAMW_STEPS):
        optimizer.zero_grad()
        loss_of(model(image_tokens, metadata)).backward()
        optimizer.step()
    after = {n: p.detach().flatten().tolist() for n, p in model.named_parameters()}

    fixture = {
        "config": {
            "batch": BATCH, "imageTokens": IMAGE_TOKENS, "imageWidth": IMAGE_WIDTH,
            "metadataWidth": METADATA_WIDTH, "metaTokens": META_TOKENS,
            "fusionWidth": FUSION_WIDTH, "fusionHeads": FUSION_HEADS,
            "metadataHidden": METADATA_HIDDEN, "headHidden": HEAD_HIDDEN,
            "classCount": classes, "posWeight": pos_weight, "labelSmoothing": label_smoothing,
            "learningRate": LEARNING_RATE, "weightDecay": WEIGHT_DECAY, "adamwSteps": ADAMW_STEPS,
        },
        "parameters": parameters,
        "imageTokens": image_tokens.flatten().tolist(),
        "metadata": metadata.flatten().tolist(),
        "labels": labels,
        "logits": logits.detach().flatten().tolist(),
        "loss": loss.item(),
        "gradients": gradients,
        "parametersAfterAdamW": after,
    }
    path = FIXTURES / f"fusion_{name}.json"
    path.write_text(json.dumps(fixture))
    print(f"wrote {path} (loss {loss.item():.6f}, torch {torch.__version__})")


def main():
    torch.set_default_dtype(torch.float32)
    make_case("binary", classes=1, labels=[1, 0, 1], pos_weight=2.5, label_smoothing=0.0, seed=7)
    make_case("multiclass", classes=4, labels=[2, 0, 3], pos_weight=None, label_smoothing=0.1,
              seed=11)


if __name__ == "__main__":
    main()
