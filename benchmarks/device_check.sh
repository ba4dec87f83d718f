#!/usr/bin/env bash
# On a CUDA machine, in one go: the CUDA tests, then the throughput table with Parzen and Inception.
# The Inception timings need the Inception pack in .gpu/ (python benchmarks/pack_inception.py pack .gpu).
# Logs go to $OUT (gpu_tests.log, throughput.log, inception.log).
# Time limits (s): TEST_S 150, BENCH_S 330, INCEPTION_S 90 — about 10 minutes in all.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=src
OUT=${OUT:-/tmp/gankit-device}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,memory.used --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
start=$(date +%s)
timeout "${TEST_S:-150}" python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_speed.py ${TESTS:-} \
    >"$OUT/gpu_tests.log" 2>&1
echo "gpu tests: exit $? in $(( $(date +%s) - start )) s"
grep -E "passed|failed|Error|error" "$OUT/gpu_tests.log" | tail -15
python3 benchmarks/pack_inception.py unpack .gpu /tmp/inception.pt || echo "no Inception pack"
start=$(date +%s)
timeout "${BENCH_S:-330}" python3 benchmarks/throughput.py --metrics --inception /tmp/inception.pt \
    ${BENCH_ARGS:---repeats 2} \
    2>&1 | grep -v Warning | tee "$OUT/throughput.log"
echo "throughput: $(( $(date +%s) - start )) s"
# Inception on the GPU alone: batch sizes, bf16, and NCHW vs channels-last for the network
timeout "${INCEPTION_S:-90}" python3 benchmarks/inception.py --device cuda --n 2000 --batch-sizes 250 500 \
    --baseline-n 0 --memory-formats --weights /tmp/inception.pt 2>&1 | grep -v Warning | tee "$OUT/inception.log"
