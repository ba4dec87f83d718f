#!/usr/bin/env bash
# On a CUDA machine: train Fashion-MNIST for 10 minutes of training time and write 10,000 samples (uint8 .npz) for an
# FID computed elsewhere with the fp32 Inception (gankit eval --samples). Usage:
#
#   bash benchmarks/gpu_quality.sh DIR [KEY=VALUE ...]     # extra overrides go after the setting below
#
# DIR gets run/ (the run folder), train.log, samples.npz, grid.png and done (the exit status) at the end.
# The data come from $GANKIT_DATA (e.g. a folder holding fashion-mnist/*-ubyte.gz). If the CUDA-graph step fails
# within its first minute, the run starts again with train.speed=eager (same computation, slower), and train.log
# says so.
#
# The setting: fashion-rpgan-dcgan (RpGAN + R1 + R2, Adam β1 0, EMA of G) made wider for a GPU — width 64, batch
# 128, R1/R2 on every D step so that the whole iteration is one CUDA graph, lr 5e-4 falling to 1e-4 along a cosine
# over 25M real images, EMA half-life 20k images.
set -u
DIR=${1:?usage: gpu_quality.sh DIR [KEY=VALUE ...]}
shift
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-src}
mkdir -p "$DIR"
SETTING=(model.width=64 train.batch_size=128 objective.reg_every=1 optim.lr=5e-4 optim.lr_final=1e-4
         train.ramp_kimg=25000 train.ema_half_life_kimg=20 train.minutes=10 train.device=cuda
         train.log_every=1000 train.sample_every=50000 train.checkpoint_every=50000 "$@")

train() {  # $1: train.speed
    local args=()
    for kv in "${SETTING[@]}"; do args+=(--set "$kv"); done
    rm -rf "$DIR/run"
    echo "train: speed $1, ${SETTING[*]}, started $(date -u +%T)"
    python3 -m gankit train fashion-rpgan-dcgan --run-dir "$DIR/run" --quiet "${args[@]}" --set "train.speed=$1"
}

{
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
    python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
    start=$(date +%s)
    train cudagraph
    status=$?
    if [ $status -ne 0 ] && [ $(( $(date +%s) - start )) -lt 90 ]; then
        echo "train.speed=cudagraph failed early (exit $status): again with train.speed=eager"
        train eager
        status=$?
    fi
    echo "train: exit $status at $(date -u +%T)"
    python3 -m gankit sample "$DIR/run" --n 10000 --seed 0 --npz "$DIR/samples.npz" --out "$DIR/run/all.png" \
        && python3 -m gankit sample "$DIR/run" --n 64 --seed 0 --out "$DIR/grid.png"
    sampled=$?
    echo "train exit $status, sample exit $sampled" >"$DIR/done"
} >"$DIR/train.log" 2>&1
