#!/usr/bin/env python3
"""Write the image fixtures of KatechonDataTests.

Outputs in Tests/KatechonDataTests/Fixtures/images/:
  - small PNG files of every colour type the decoder must handle: grey, grey+alpha,
    palette with transparency, RGB, RGBA, 16-bit grey and RGB. The minimal encoder
    below writes them, so their exact sample values are known. One more has a wrong CRC;
  - a small JPEG written by Pillow, and layouts.hdf5 with that JPEG stored by h5py
    as a fixed-length string, an opaque blob, a uint8 array and a variable-length
    uint8 sequence, plus a variable-length string that is no image;
  - reference.json: the expected RGB8 pixels of each file, and windows of the decoded
    pixels of two real ISIC JPEGs (decoded by Pillow), and Pillow resizes used to check
    Katechon's antialiased resampling.

Expected PNG pixels follow Katechon's documented conversion: alpha is composited onto
black as round(c * a / 255), and 16-bit samples become round(v / 257).

Run from the package root with ../shared/data beside it:
    python3 scripts/reference/make_image_fixture.py
"""
import io
import json
import os
import struct
import zlib

import h5py
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "KatechonDataTests", "Fixtures", "images")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def png_chunk(kind, payload, corrupt_crc=False):
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    if corrupt_crc:
        crc ^= 0x1
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def write_png(path, samples, color_type, bit_depth, palette=None, transparency=None, corrupt_crc=False):
    """Write samples [H, W, channels] (uint8 or uint16) as a PNG with filter type 0."""
    height, width = samples.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    rows = [b"\x00" + samples[y].astype(dtype).tobytes() for y in range(height)]
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    if transparency is not None:
        data += png_chunk(b"tRNS", bytes(np.asarray(transparency, dtype=np.uint8)))
    data += png_chunk(b"IDAT", zlib.compress(b"".join(rows)), corrupt_crc=corrupt_crc)
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def composite(rgb, alpha):
    return ((rgb.astype(np.uint32) * alpha[..., None].astype(np.uint32) + 127) // 255).astype(np.uint8)


def to_8bit(v16):
    return ((v16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def entry(name, rgb):
    h, w = rgb.shape[:2]
    return {"file": name, "width": int(w), "height": int(h), "window": [0, 0, int(w), int(h)],
            "pixels": [int(v) for v in rgb.ravel()]}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240)
    h, w = 11, 13
    references = []

    grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
    write_png(os.path.join(OUT, "grey8.png"), grey[..., None], 0, 8)
    references.append(entry("grey8.png", np.repeat(grey[..., None], 3, axis=2)))

    grey_alpha = rng.integers(0, 256, (h, w, 2), dtype=np.uint8)
    write_png(os.path.join(OUT, "grey_alpha8.png"), grey_alpha, 4, 8)
    references.append(entry("grey_alpha8.png",
                            composite(np.repeat(grey_alpha[..., :1], 3, axis=2), grey_alpha[..., 1])))

    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    transparency = np.array([255, 0, 128, 255, 40], dtype=np.uint8)  # entry 5 is opaque
    indices = rng.integers(0, 6, (h, w), dtype=np.uint8)
    write_png(os.path.join(OUT, "palette.png"), indices[..., None], 3, 8, palette=palette, transparency=transparency)
    alpha = np.append(transparency, 255)[indices]
    references.append(entry("palette.png", composite(palette[indices], alpha)))

    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    write_png(os.path.join(OUT, "rgb8.png"), rgb, 2, 8)
    references.append(entry("rgb8.png", rgb))

    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    write_png(os.path.join(OUT, "rgba8.png"), rgba, 6, 8)
    references.append(entry("rgba8.png", composite(rgba[..., :3], rgba[..., 3])))

    grey16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    write_png(os.path.join(OUT, "grey16.png"), grey16[..., None], 0, 16)
    references.append(entry("grey16.png", np.repeat(to_8bit(grey16)[..., None], 3, axis=2)))

    rgb16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    write_png(os.path.join(OUT, "rgb16.png"), rgb16, 2, 16)
    references.append(entry("rgb16.png", to_8bit(rgb16)))

    write_png(os.path.join(OUT, "bad_crc.png"), rgb, 2, 8, corrupt_crc=True)

    # A smooth JPEG so that the chroma upsampling and IDCT are exercised without noise.
    yy, xx = np.mgrid[0:30, 0:40]
    smooth = np.stack([xx * 6, yy * 8, 255 - xx * 3 - yy * 2], axis=2).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(smooth).save(buffer, format="JPEG", quality=90)
    with open(os.path.join(OUT, "gradient.jpg"), "wb") as f:
        f.write(buffer.getvalue())
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    references.append(entry("gradient.jpg", decoded))

    # Every HDF5 layout of an image blob that h5py users write, holding gradient.jpg.
    blob = buffer.getvalue()
    with h5py.File(os.path.join(OUT, "layouts.hdf5"), "w") as f:
        f.create_dataset("ISIC_FIXED", data=np.bytes_(blob), track_times=False)
        f.create_dataset("ISIC_OPAQUE", data=np.void(blob), track_times=False)
        f.create_dataset("ISIC_ARRAY", data=np.frombuffer(blob, dtype=np.uint8), track_times=False)
        vlen = f.create_dataset("ISIC_VLEN", shape=(), dtype=h5py.vlen_dtype(np.uint8), track_times=False)
        vlen[()] = np.frombuffer(blob, dtype=np.uint8)
        f.create_dataset("ISIC_TEXT", data="not an image", dtype=h5py.string_dtype(), track_times=False)

    # Windows of two real JPEGs decoded by Pillow, and Pillow resizes of them.
    real = []
    uda_path = os.path.join(SHARED, "isic-uda1", "ISIC_0000004.jpg")
    real.append(("isic-uda1/ISIC_0000004.jpg", Image.open(uda_path).convert("RGB")))
    with h5py.File(os.path.join(SHARED, "isic2024-test", "test-image.hdf5"), "r") as f:
        blob = f["ISIC_0015657"][()]
    real.append(("isic2024-test/test-image.hdf5#ISIC_0015657", Image.open(io.BytesIO(blob)).convert("RGB")))
    windows = []
    for name, image in real:
        pixels = np.asarray(image)
        x, y, size = 60, 50, 20
        window = pixels[y:y + size, x:x + size]
        windows.append({"file": name, "width": image.width, "height": image.height, "window": [x, y, size, size],
                        "pixels": [int(v) for v in window.ravel()],
                        "channelSums": [int(v) for v in pixels.reshape(-1, 3).sum(axis=0)]})

    resizes = []
    for name, image in real:
        for size in (24, 150):
            for filter_name, resample in (("bilinear", Image.BILINEAR), ("box", Image.BOX)):
                resized = np.asarray(image.resize((size, size), resample=resample))
                resizes.append({"file": name, "size": size, "filter": filter_name,
                                "pixels": [int(v) for v in resized[:8, :8].ravel()] if size > 24
                                else [int(v) for v in resized.ravel()],
                                "window": [0, 0, 8, 8] if size > 24 else [0, 0, size, size]})

    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"decoded": references, "realWindows": windows, "resizes": resizes}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
