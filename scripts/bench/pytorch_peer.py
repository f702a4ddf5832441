#!/usr/bin/env python3
"""Peer benchmark: PyTorch DDP (gloo, CPU) training step throughput for the image path.

Trains timm's ViT with the first depth-k blocks frozen (as katechon-dist does) plus a
linear head on random tensors, and prints images/s, the same quantity that
`katechon-dist bench` reports. The fusion decoder is omitted: it costs well under 1% of
the ViT's FLOPs at these sizes.

Run on one machine with N processes:
    python3 scripts/bench/pytorch_peer.py --ranks 2 --backbone tiny --image-size 128 \
        --batch-size 16 --steps 20 --threads 1
Needs torch and timm (pip install torch timm). Not used by the tests.
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


WIDTHS = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}


def worker(rank, args):
    import timm

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(args.port))
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    width, heads = WIDTHS[args.backbone]
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=args.image_size, patch_size=16, embed_dim=width, depth=12,
        num_heads=heads, num_classes=1)
    trainable_from = 12 - args.trainable_blocks
    for name, parameter in model.named_parameters():
        frozen = name.startswith(("patch_embed", "cls_token", "pos_embed"))
        if name.startswith("blocks."):
            frozen = int(name.split(".")[1]) < trainable_from
        parameter.requires_grad_(not frozen)
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=25)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    labels = torch.randint(0, 2, (args.batch_size, 1)).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(ddp(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        images_per_s = args.ranks * args.batch_size * args.steps / elapsed
        print(json.dumps({"peer": "pytorch-ddp-gloo", "torch": torch.__version__,
                          "ranks": args.ranks, "threads_per_rank": args.threads,
                          "backbone": args.backbone, "image_size": args.image_size,
                          "batch_size_per_rank": args.batch_size,
                          "images_per_s": round(images_per_s, 2)}))
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--backbone", choices=sorted(WIDTHS), default="tiny")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="per rank")
    parser.add_argument("--trainable-blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--port", type=int, default=29512)
    args = parser.parse_args()
    mp.spawn(worker, args=(args,), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
