# tvau_ros entry points. `make test` is what CI runs (.ci/run).
.PHONY: setup test test-unit demo demo-vtest clean

setup:
	bash scripts/setup.sh

test: setup
	bash scripts/test.sh

test-unit: setup
	bash scripts/test.sh test/unit tvau_ros

# The main job: a generated sample clip -> replay node -> AHD heatmap node (DDS) -> outputs/demo.
# Replayed at half speed so a 2-core CPU (about 8 frames/s of AHD) keeps up with the 15 fps clip.
demo: setup
	TVAU_DEMO_RATE=0.5 bash scripts/demo.sh "" tvau_ros/configs/pipeline_ahd.yaml outputs/demo

# The same on real surveillance footage (OpenCV's vtest.avi from Debian's opencv-doc).
# The fetch runs first: a failure stops here instead of demoing the generated sample.
demo-vtest: setup
	@clip="$$(bash scripts/get_vtest.sh)" \
	  || { echo "make demo-vtest: error: could not fetch vtest.avi (reason above); not running the demo" >&2; exit 1; }; \
	TVAU_DEMO_RATE=0.5 bash scripts/demo.sh "$$clip" tvau_ros/configs/pipeline_ahd.yaml outputs/demo_vtest

clean:
	rm -rf build build.*.log .venv .pytest_cache
