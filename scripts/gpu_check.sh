#!/bin/bash
# GPU check of the core pipeline (no ROS): accuracy and speed of device=cuda (+ half) on the TUD-Campus sequences.
#
# Runs on a bare CUDA machine whose python3 already has torch, torchvision, opencv, onnx and onnxruntime
# (the device tool's image). It needs, in .gpu/ (ignored by git):
#   .gpu/whl/   wheels of ultralytics, ultralytics-thop, deep-sort-realtime, lap, trackeval for that python
#   .gpu/data/  yolov8n_coco_int8.onnx, osnet_x0_25_msmt17.onnx, TUD-Campus*, TUD-Campus-1080 (a 1440x1080 resize)
# Filling .gpu/ here (x86-64; the device's python was 3.12):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux1_x86_64 -d .gpu/whl \
#       ultralytics==8.4.190 ultralytics-thop==2.2.3 deep-sort-realtime==1.3.2 lap==0.5.13 trackeval==1.3.0
#   cp -r ../shared/data/mot/TUD-Campus* ../shared/data/models/*.onnx .gpu/data/
#   (TUD-Campus-1080: the first 40 frames of TUD-Campus resized to 1440x1080, with a matching seqinfo.ini)
# and .gpu/ travels with the device tool's `carry`. Writes its log to ${OUT:-out}/gpu_check.log.
#   bash scripts/gpu_check.sh                  # both sections (about 6 minutes on an H100 machine)
#   bash scripts/gpu_check.sh speed            # one section: accuracy or speed
set -u
SECTIONS=${*:-accuracy speed}
OUT=${OUT:-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
[ -n "${SKIP_INSTALL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD YOLO_OFFLINE=1 PYTHONUNBUFFERED=1
D=.gpu/data
M=/tmp/coco_dq.pt
nvidia-smi -L
python3 -c "import torch, ultralytics, onnxruntime as o; print('torch', torch.__version__, torch.cuda.get_device_name(0),
'ultralytics', ultralytics.__version__, 'onnxruntime', o.__version__, o.get_available_providers())"
python3 scripts/coco_pt_from_onnx.py $D/yolov8n_coco_int8.onnx $M || exit 1
mot() {  # mot SEQ LABEL SETTINGS...
    local s=$1 label=$2; shift 2
    local sets=(); for kv in "$@"; do sets+=(--set "$kv"); done
    echo "== $s $label"
    timeout 120 python3 -m mot_ros.tools.mot_track mot $D/$s -o /tmp/mot/$s.$label.txt --model $M \
        --set 'classes=[person]' "${sets[@]}" --eval 2>&1 | grep -E "^TUD|ms_per_frame|Error|error" | grep -v -E "WARN|BURST"
}
speed() {  # speed SEQ LABEL SETTINGS...
    local s=$1 label=$2; shift 2
    local sets=(); for kv in "$@"; do sets+=(--set "$kv"); done
    echo "== speed $s $label"
    timeout 120 python3 scripts/sweep_trackers.py speed $D/$s --model $M --set 'classes=[person]' "${sets[@]}" \
        --repeat 3 2>&1 | grep -E "ratio|Error|error|CUDAExecutionProvider"
}
O=$D/osnet_x0_25_msmt17.onnx
SEQS="TUD-Campus TUD-Campus-pan TUD-Campus-fastpan TUD-Campus-8fps-pan"
if [[ " $SECTIONS " == *" accuracy "* ]]; then
echo "### accuracy: default config, device cuda, half"
for s in $SEQS; do mot $s cuda-half device=cuda half=true; done
echo "### accuracy: default config, device cuda, fp32"
for s in $SEQS; do mot $s cuda device=cuda; done
echo "### accuracy: default config, device cpu, torch backend (same weights, this machine)"
for s in $SEQS; do mot $s cpu device=cpu backend=torch; done
echo "### accuracy: OSNet (onnxruntime) and MobileNet on the GPU"
for s in $SEQS; do mot $s osnet device=cuda half=true embedder=osnet embedder_model=$O; done
for s in TUD-Campus TUD-Campus-8fps-pan; do mot $s mobilenet device=cuda half=true embedder=mobilenet; done
fi
if [[ " $SECTIONS " == *" speed "* ]]; then
echo "### speed: whole pipeline over detector alone, interleaved per frame"
speed TUD-Campus cuda-half device=cuda half=true
speed TUD-Campus cuda device=cuda
speed TUD-Campus cuda-half-cmc-none device=cuda half=true cmc=none
speed TUD-Campus cuda-half-mobilenet device=cuda half=true embedder=mobilenet
speed TUD-Campus cuda-half-mobilenet-on-cpu device=cuda half=true embedder=mobilenet embedder_gpu=false
speed TUD-Campus cuda-half-osnet device=cuda half=true embedder=osnet embedder_model=$O
speed TUD-Campus-1080 cuda-half device=cuda half=true
speed TUD-Campus-1080 cuda-half-cmc-none device=cuda half=true cmc=none
speed TUD-Campus-1080 cuda-half-mobilenet device=cuda half=true embedder=mobilenet
speed TUD-Campus cpu device=cpu backend=torch
fi
echo "### done"
