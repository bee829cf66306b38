# mot_ros developer commands. Everything runs from the repo's .venv, built offline by scripts/bootstrap.sh.
VENV := .venv
PY := $(VENV)/bin/python
export YOLO_OFFLINE := 1
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export FASTRTPS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_large_images.xml

.PHONY: venv demo test bench mutation clean

venv:
	@bash scripts/bootstrap.sh

## The main job: track the embedded demo input through the ROS node; writes out/demo_annotated.mp4 and out/demo_tracks.txt
demo: venv
	$(VENV)/bin/mot_demo --output-dir out

## All tests (unit, node over DDS, offline tools); tests on ../shared/data skip when it is absent
test: venv
	$(PY) -m pytest -q -p no:cacheprovider test

## Stage-by-stage benchmark (not part of the tests); writes out/bench.json
bench: venv
	$(PY) -m mot_ros.tools.bench --output out/bench.json
	$(MAKE) mutation

## Mutation check (not part of the tests): plants known bugs one at a time in a temporary copy and checks that
## the tests catch each; writes out/mutation.md and out/mutation.json (15-25 minutes on 2 cores)
mutation: venv
	$(PY) scripts/mutation_check.py --markdown out/mutation.md --json out/mutation.json

clean:
	rm -rf build out
