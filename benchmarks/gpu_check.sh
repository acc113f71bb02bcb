#!/usr/bin/env bash
# The GPU checks, in one run, for a machine with CUDA: the test files that
# hold the device tests (they skip without CUDA), then the GPU sections of the
# training benchmark. Usage, from the project root, with skvae's
# dependencies importable (installed, or on PYTHONPATH):
#   bash benchmarks/gpu_check.sh [OUTPUT_FOLDER]
# It writes tests.log, bench.log and bench_gpu.json to OUTPUT_FOLDER
# (default: gpu-check/).
set -uo pipefail
out=${1:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, sklearn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'sklearn', sklearn.__version__)" | tee -a "$out/gpu.txt"
python3 -m pytest tests/test_device.py tests/test_training.py tests/test_vae.py \
    tests/test_persistence.py -q -p no:cacheprovider -rs 2>&1 | tee "$out/tests.log"
tests_rc=${PIPESTATUS[0]}
python3 benchmarks/bench_training.py --device cuda --json "$out/bench_gpu.json" 2>&1 \
    | tee "$out/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "tests exit $tests_rc, benchmark exit $bench_rc"
exit $(( tests_rc || bench_rc ))
