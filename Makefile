# tvau_ros entry points. `make test` is what CI runs (.ci/run).
.PHONY: setup test test-unit demo demo-vtest clean

setup:
	bash scripts/setup.sh

test: setup
	bash scripts/test.sh

test-unit: setup
	bash scripts/test.sh test/unit tvau_ros

# The main job: learn a generated plaza's normal from a minute of people walking there, then replay
# another clip of it (a runner among walkers) -> replay node -> heatmap + query node (DDS) -> outputs/demo.
demo: setup
	bash scripts/demo.sh "" "" outputs/demo

# The same on real surveillance footage: OpenCV's vtest.avi (Debian's opencv-doc), frames 0-399 only.
# The check set's fold a: its scene model is learnt from frames 0-199, the clip (a car driven across
# the walkway, composited) is cut from frames 200-399. The fetch runs first: a failure stops here.
demo-vtest: setup
	@clip="$$(bash scripts/get_vtest.sh)" \
	  || { echo "make demo-vtest: error: could not fetch vtest.avi (reason above); not running the demo" >&2; exit 1; }; \
	.venv/bin/python -m tvau_ros.cli data realcheck --video "$$clip" --out outputs/realcheck_demo --per-kind 1 --overwrite \
	  && bash scripts/demo.sh outputs/realcheck_demo/fold_a/Scene_vtest/vtest_a_vehicle_00.mp4 "" outputs/demo_vtest \
	       outputs/realcheck_demo/fold_a/Scene_vtest/vtest_a_learn.mp4

clean:
	rm -rf build build.*.log .venv .pytest_cache
