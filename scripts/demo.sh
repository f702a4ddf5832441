#!/usr/bin/env bash
# Runs the main job on built-in demo data. It sets up, writes SYNTHETIC ISIC 2024-style
# data, and trains with 2 MPI ranks. Then it evaluates the checkpoint on all demo rows
# and predicts the three real ISIC 2024 test crops in ../shared/data when present.
#
# Takes a few minutes on 2 cores. Environment overrides: RANKS (2), STEPS (160),
# IMAGE_SIZE (64), DEMO_DIR (demo), RUN_DIR (runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
bin=.build/release/katechon-dist
ranks=${RANKS:-2}
demo=${DEMO_DIR:-demo}
run=${RUN_DIR:-runs/demo}

"$bin" synth --out "$demo" --lesions 3000 --patients 300 --positive-rate 0.05 --seed 7

rm -rf "$run"
mpirun --oversubscribe -np "$ranks" "$bin" train \
    --metadata "$demo/train-metadata.csv" --images "$demo/train-image.hdf5" --out "$run" \
    --backbone tiny --image-size "${IMAGE_SIZE:-64}" --trainable-blocks 5 \
    --fusion mutual --batch-size 16 --steps "${STEPS:-160}" --lr 5e-4 --warmup-steps 10 \
    --neg-per-pos 4 --augment --eval-every 80 --checkpoint-every 80 --log-every 20

checkpoint="$run/checkpoints/$(cat "$run/checkpoints/latest")"
echo "== evaluate $checkpoint on all demo rows (training rows included)"
mpirun --oversubscribe -np "$ranks" "$bin" evaluate --checkpoint "$checkpoint" \
    --metadata "$demo/train-metadata.csv" --images "$demo/train-image.hdf5" \
    --out "$run/metrics.json" --roc "$run/roc.png"

real=../shared/data/isic2024-test
if [ -f "$real/test-image.hdf5" ]; then
    echo "== predict the real ISIC 2024 test crops"
    "$bin" predict --checkpoint "$checkpoint" --metadata "$real/test-metadata.csv" \
        --images "$real/test-image.hdf5" --out "$run/submission.csv"
    cat "$run/submission.csv"
fi
