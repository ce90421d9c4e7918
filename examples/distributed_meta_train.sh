#!/usr/bin/env bash
# Data-parallel meta-training with torchrun: the same command as a single-process run.
#
# Every rank draws the SAME global batch of --meta-batch-size tasks from the shared-seed task
# stream and trains on its shard; gradients are all-reduced (weighted by shard size), so an
# N-process run follows the 1-process trajectory (up to float summation order). Only rank 0
# prints, logs to MLflow and writes checkpoints.
#
# Usage:
#   examples/distributed_meta_train.sh            # 2 CPU processes (gloo), a short run
#   NPROC=8 STEPS=20000 examples/distributed_meta_train.sh   # 8 GPUs (nccl), one per rank
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
NPROC=${NPROC:-2}
STEPS=${STEPS:-200}
ALGO=${ALGO:-maml}
CKPT=${CKPT:-runs/meta-train/${ALGO}-ddp}

# On CPU, keep each rank to one thread so the ranks do not fight over cores.
if ! command -v nvidia-smi >/dev/null 2>&1; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi

run() {
  "$PY" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" \
    -m autometa meta-train \
      --algo "$ALGO" --pool synthetic --val-pool synthetic \
      --d-max 16 --c-max 5 --hidden 64,64 --inner-steps 5 \
      --meta-batch-size 16 --lr 1e-3 --device auto \
      --eval-every 50 --checkpoint-every 50 --val-tasks 64 \
      --checkpoint-dir "$CKPT" --run-name "${ALGO}-ddp-x${NPROC}" "$@"
}

# 1) the run (kill it at any time: Ctrl-C, kill -9, a preempted node ...)
run --steps "$STEPS" "$@"

# 2) continue it from $CKPT/last.pt up to twice the steps; the continued run equals one
#    that was never interrupted (same task stream, optimizer and RNG states).
run --steps "$((2 * STEPS))" --resume "$@"

# 3) score the best checkpoint on 1,000 held-out tasks with 95% confidence intervals
"$PY" -m autometa evaluate --checkpoint "$CKPT/best.pt" --pool synthetic --tasks 1000
