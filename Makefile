# tvau_ros entry points. `make test` is what CI runs (.ci/run).
.PHONY: setup test test-unit clean

setup:
	bash scripts/setup.sh

test: setup
	bash scripts/test.sh

test-unit: setup
	bash scripts/test.sh test/unit tvau_ros

clean:
	rm -rf build build.*.log .venv .pytest_cache
