#!/usr/bin/env python3
"""Make the fixture for `katechon-dist features`: timm's pre-logits of a few PNG images.

Writes into Tests/KatechonTrainingTests/Fixtures/features/:
- backbone.safetensors: a small timm VisionTransformer with random weights (seed 0),
  under timm's own key names (head.* included, as timm saves it);
- images/ISIC_900000{0,1,2}.png: 32 x 32 RGB images, so no resizing is involved;
- expected.json: for each image, the class token after the final norm (timm's
  forward_head(pre_logits=True) with class-token pooling) and the mean of the normed
  patch tokens, with inputs normalised by mean 0.5 and std 0.5.

Run from the repository root: python3 scripts/reference/make_features_fixture.py
"""
import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

OUT = "Tests/KatechonTrainingTests/Fixtures/features"


def main():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    torch.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=16, embed_dim=48, depth=2, num_heads=3,
                              num_classes=5).eval()
    with torch.no_grad():
        # Random weights with realistic spread (timm's init leaves biases at zero).
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(OUT, "backbone.safetensors"))

    rng = np.random.default_rng(1)
    ids = [f"ISIC_900000{i}" for i in range(3)]
    expected = {"ids": ids, "cls": [], "mean": []}
    for image_id in ids:
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(os.path.join(OUT, "images", image_id + ".png"))
        x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        x = (x - 0.5) / 0.5
        with torch.no_grad():
            tokens = model.forward_features(x)
            cls = model.forward_head(tokens, pre_logits=True)
        expected["cls"].append(cls[0].tolist())
        expected["mean"].append(tokens[0, 1:].mean(dim=0).tolist())
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
