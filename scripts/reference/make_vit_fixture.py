#!/usr/bin/env python3
"""Make the ViT reference fixtures that Tests/KatechonModelTests compares against.

Builds timm VisionTransformer models with random weights from a fixed torch seed and
writes, for each case, the weights (timm keys, F16) and a case file (F32) holding an
input batch of 2, the tokens of forward_features (after the final norm), a random R and
the gradients of L = sum(tokens * R) for the trainable blocks and the final norm.

Cases:
  small     width 48, depth 4, 4 heads, patch 16, image 48, trainable blocks 2
  resample  the small weights (made at 48 px) run at 64 px, pos_embed resampled by
            timm's resample_abs_pos_embed (bicubic, antialias=True, as timm loads checkpoints)
  tiny      timm's vit_tiny_patch16_224 key layout (head included, which the loader
            must ignore) with re-drawn random weights, run at 64 px, so pos_embed is
            resampled from 14x14 to 4x4; trainable blocks 5, gradients stored for the
            last block and the final norm only, in F16, to keep the fixture small
  pos_embed resample_abs_pos_embed alone on random embeddings, shrinking, growing and
            changing the aspect ratio, with antialias False and True
The small weights are also written under Hugging Face transformers ViT key names
(query/key/value split out of qkv, plus a pooler and classifier to be ignored).

Weights are rounded to F16 before the reference runs, so PyTorch and Swift compute with
the same values. Requires torch, timm (tested with 1.0.31) and safetensors.

Usage: python3 scripts/reference/make_vit_fixture.py  (from the repository root)
"""

import json
import math
import os

import torch
import timm
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer
from safetensors.torch import save_file

OUT = os.path.join("Tests", "KatechonModelTests", "Fixtures")


def randomize(model, generator):
    """Draw weights that give O(1) activations and non-uniform attention, then round
    every parameter to F16 and back."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            def randn(*shape):
                return torch.randn(*shape, generator=generator)

            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name in ("norm.weight", "fc_norm.weight"):
                value = 1 + 0.1 * randn(*p.shape)
            elif name.endswith("bias"):
                value = 0.1 * randn(*p.shape)
            elif name == "pos_embed":
                value = 0.5 * randn(*p.shape)
            elif name == "cls_token":
                value = randn(*p.shape)
            else:
                fan_in = p[0].numel()
                value = randn(*p.shape) / math.sqrt(fan_in)
            p.copy_(value.half().float())


def half_state(model):
    return {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}


def reference(model, pixels, r, trainable_blocks):
    """tokens and the gradients of sum(tokens * r) for the last trainable blocks and norm."""
    depth = len(model.blocks)
    model.zero_grad()
    tokens = model.forward_features(pixels)
    (tokens * r).sum().backward()
    gradients = {}
    for name, p in model.named_parameters():
        if name.startswith("norm."):
            gradients[name] = p.grad.detach().clone()
        elif name.startswith("blocks."):
            index = int(name.split(".")[1])
            if index >= depth - trainable_blocks:
                gradients[name] = p.grad.detach().clone()
    return tokens.detach(), gradients


def load_resampled(model, state):
    """Load `state` into `model`, resampling pos_embed to the model's grid."""
    state = dict(state)
    state["pos_embed"] = resample_abs_pos_embed(
        state["pos_embed"].float(), new_size=list(model.patch_embed.grid_size),
        num_prefix_tokens=1, interpolation="bicubic", antialias=True)
    missing, unexpected = model.load_state_dict(
        {k: v.float() for k, v in state.items() if not k.startswith("head.")}, strict=False)
    assert not missing, missing


def save_case(name, pixels, r, tokens, gradients, metadata, gradient_dtype=torch.float32):
    tensors = {"pixels": pixels, "r": r, "tokens": tokens}
    for key, value in gradients.items():
        tensors["grad." + key] = value.to(gradient_dtype)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name), metadata={k: str(v) for k, v in metadata.items()})


def huggingface_keys(state):
    """The timm state dict under transformers ViTModel names, with qkv split."""
    out = {
        "vit.embeddings.cls_token": state["cls_token"],
        "vit.embeddings.position_embeddings": state["pos_embed"],
        "vit.embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
        "vit.embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
        "vit.layernorm.weight": state["norm.weight"],
        "vit.layernorm.bias": state["norm.bias"],
    }
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    for i in range(depth):
        src = f"blocks.{i}."
        dst = f"vit.encoder.layer.{i}."
        for suffix in ("weight", "bias"):
            q, k, v = state[src + "attn.qkv." + suffix].chunk(3, dim=0)
            out[dst + "attention.attention.query." + suffix] = q.contiguous()
            out[dst + "attention.attention.key." + suffix] = k.contiguous()
            out[dst + "attention.attention.value." + suffix] = v.contiguous()
            out[dst + "attention.output.dense." + suffix] = state[src + "attn.proj." + suffix]
            out[dst + "layernorm_before." + suffix] = state[src + "norm1." + suffix]
            out[dst + "layernorm_after." + suffix] = state[src + "norm2." + suffix]
            out[dst + "intermediate.dense." + suffix] = state[src + "mlp.fc1." + suffix]
            out[dst + "output.dense." + suffix] = state[src + "mlp.fc2." + suffix]
    width = state["norm.weight"].shape[0]
    g = torch.Generator().manual_seed(99)
    out["vit.pooler.dense.weight"] = torch.randn(width, width, generator=g).half()
    out["vit.pooler.dense.bias"] = torch.randn(width, generator=g).half()
    out["classifier.weight"] = torch.randn(2, width, generator=g).half()
    out["classifier.bias"] = torch.randn(2, generator=g).half()
    return out


def save_resample_cases(generator):
    """Inputs and outputs of timm's resample_abs_pos_embed for several grids."""
    tensors = {}
    grids = {"shrink": ((7, 7), (4, 4)), "grow": ((3, 3), (5, 5)), "aspect": ((3, 5), (4, 2))}
    for name, (old, new) in grids.items():
        width = 3
        embedding = torch.randn(1, 1 + old[0] * old[1], width, generator=generator)
        tensors[name + ".input"] = embedding
        for antialias in (False, True):
            out = resample_abs_pos_embed(embedding, new_size=list(new), old_size=list(old),
                                         num_prefix_tokens=1, interpolation="bicubic", antialias=antialias)
            tensors[f"{name}.antialias_{str(antialias).lower()}"] = out.contiguous()
    metadata = {name: json.dumps({"old": list(old), "new": list(new)}) for name, (old, new) in grids.items()}
    save_file(tensors, os.path.join(OUT, "vit_pos_embed_resample.safetensors"), metadata=metadata)


def small_model(image_size):
    return VisionTransformer(img_size=image_size, patch_size=16, embed_dim=48, depth=4, num_heads=4,
                             mlp_ratio=4.0, num_classes=0)


def main():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1234)

    # small: weights and run at 48 px
    small = small_model(48)
    randomize(small, generator)
    state = half_state(small)
    save_file(state, os.path.join(OUT, "vit_small_weights.safetensors"))
    save_file({k: v.contiguous() for k, v in huggingface_keys(state).items()},
              os.path.join(OUT, "vit_small_hf_weights.safetensors"))
    pixels = torch.randn(2, 3, 48, 48, generator=generator)
    r = torch.randn(2, 1 + 9, 48, generator=generator)
    tokens, gradients = reference(small, pixels, r, trainable_blocks=2)
    save_case("vit_small_case.safetensors", pixels, r, tokens, gradients,
              {"weights": "vit_small_weights.safetensors", "image_size": 48, "heads": 4, "trainable_blocks": 2})

    # resample: the 48 px weights run at 64 px
    resampled = small_model(64)
    load_resampled(resampled, state)
    pixels = torch.randn(2, 3, 64, 64, generator=generator)
    r = torch.randn(2, 1 + 16, 48, generator=generator)
    tokens, gradients = reference(resampled, pixels, r, trainable_blocks=2)
    save_case("vit_resample_case.safetensors", pixels, r, tokens, gradients,
              {"weights": "vit_small_weights.safetensors", "image_size": 64, "heads": 4, "trainable_blocks": 2})

    # tiny: the real vit_tiny_patch16_224 key layout, run at 64 px
    tiny224 = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    randomize(tiny224, generator)
    tiny_state = half_state(tiny224)
    save_file(tiny_state, os.path.join(OUT, "vit_tiny_patch16_224.safetensors"))
    tiny = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, num_classes=0)
    load_resampled(tiny, tiny_state)
    pixels = torch.randn(2, 3, 64, 64, generator=generator)
    r = torch.randn(2, 1 + 16, 192, generator=generator)
    tokens, gradients = reference(tiny, pixels, r, trainable_blocks=5)
    last_block_and_norm = {k: v for k, v in gradients.items() if k.startswith(("norm.", "blocks.11."))}
    save_case("vit_tiny_case.safetensors", pixels, r, tokens, last_block_and_norm,
              {"weights": "vit_tiny_patch16_224.safetensors", "image_size": 64, "heads": 3, "trainable_blocks": 5},
              gradient_dtype=torch.float16)

    save_resample_cases(generator)

    for name in sorted(os.listdir(OUT)):
        if name.startswith("vit_"):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
