#!/usr/bin/env bash
# On a CUDA machine: train Fashion-MNIST for 10 minutes of training time and write 10,000 samples (uint8 .npz) for an
# FID computed elsewhere with the fp32 Inception (gankit eval --samples). Usage:
#
#   bash benchmarks/gpu_quality.sh DIR [KEY=VALUE ...]     # extra overrides of the preset
#   gankit eval --samples DIR/samples.npz --reference fashion-mnist:test --metrics fid,classifier   # then, anywhere
#
# DIR gets run/ (the run folder), train.log, samples.npz, grid.png and done (the exit status) at the end.
# The data come from $GANKIT_DATA (e.g. a folder holding fashion-mnist/*-ubyte.gz). If the CUDA-graph step fails
# within its first minute, the run starts again with train.speed=eager (same computation, slower), and train.log
# says so.
#
# The preset is fashion-rpgan-dcgan-wide (its file says what it is); the figure in docs/benchmarks.md came from the
# same configuration written as overrides of fashion-rpgan-dcgan (the resolved configs are equal).
set -u
DIR=${1:?usage: gpu_quality.sh DIR [KEY=VALUE ...]}
shift
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-src}
mkdir -p "$DIR"
SETTING=(train.minutes=10 train.device=cuda "$@")

train() {  # $1: train.speed
    local args=()
    for kv in "${SETTING[@]}"; do args+=(--set "$kv"); done
    rm -rf "$DIR/run"
    echo "train: speed $1, ${SETTING[*]}, started $(date -u +%T)"
    python3 -m gankit train fashion-rpgan-dcgan-wide --run-dir "$DIR/run" --quiet "${args[@]}" --set "train.speed=$1"
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
