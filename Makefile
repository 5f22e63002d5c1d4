# The two commands of the README:
#   make run    build and start the main job on embedded defaults
#   make test   build under ASan/UBSan and run the whole test suite; tests
#               that skipped (exit 77) are listed last, and with
#               SAMSA_TEST_STRICT=1 (as .ci/run sets) one skip fails the run
# Both install missing Debian packages first (scripts/deps.sh).

BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)
DATA       ?= data

.PHONY: run test test-quick suite build build-test deps deps-test bench clean mutants mutants-ci coverage

# the main job: samsa-broker, the relays and the reference shop (docs/shop.md)
run: deps build
	exec ./$(BUILD)/examples/shop/samsa-shop --data $(DATA)

# ctest's JUnit file keeps every test's whole output, so tests/ctest_report.py
# can list the skipped tests with their reasons after everything else. Then
# the mutants of the durability promises (tests/mutants, "ci: yes") must all
# be killed. `make test-quick` skips the tests labelled slow and the mutants.
# The Release tree (make run's) is built too: -O2 finds warnings -O0 does not.
CTEST_ARGS ?=
test: suite mutants-ci

test-quick: CTEST_ARGS += -LE slow
test-quick: suite

suite: deps-test build build-test
	cd tests/integration/js && npm ci --no-audit --no-fund --loglevel=error
	rm -f $(abspath $(TEST_BUILD))/ctest-junit.xml
	cd $(TEST_BUILD) && { ctest --output-on-failure -j$(JOBS) --timeout 600 --no-tests=error $(CTEST_ARGS) \
	    --output-junit $(abspath $(TEST_BUILD))/ctest-junit.xml \
	    --test-output-size-passed 16000000 --test-output-size-failed 16000000; \
	  /usr/bin/python3 $(CURDIR)/tests/ctest_report.py $(abspath $(TEST_BUILD))/ctest-junit.xml $$?; }

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

build-test:
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSAMSA_SANITIZE=ON
	cmake --build $(TEST_BUILD) -j$(JOBS)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

bench: deps
	bench/run.sh

# mutation tests (tests/mutants/run.sh): every mutant must be killed by its tests
mutants: deps-test
	tests/mutants/run.sh

mutants-ci: deps-test
	tests/mutants/run.sh --ci

# line coverage of src/ by the whole suite (scripts/coverage.sh; build-cov/)
coverage: deps-test
	scripts/coverage.sh

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
