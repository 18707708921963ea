# heaplab: thin wrapper over CMake. `make bench` and `make test` are each the whole set-up
# on a fresh Debian 12 machine (they run scripts/deps.sh first).
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
RESULTS    ?= results
BENCH_ARGS ?= --threads 1,2 --repeat 5
FUZZ_TIME  ?= 600
SOAK_MINUTES ?= 30
SOAK_SEED  ?= 1
PREFIX     ?= /usr/local
DESTDIR    ?=

# cmake --build runs make again: keep its "Entering directory" lines out of the output.
MAKEFLAGS += --no-print-directory

.PHONY: all build deps install secure perf test test-asan test-tsan bench fuzz soak format format-check lint clean

# $(call configure,DIR,ARGS): first what building needs (scripts/deps.sh --build says what is
# missing and how to install it), then cmake, whose errors and warnings show (not its
# per-check status lines).
configure = bash scripts/deps.sh --build && \
	cmake -S . -B $(1) --log-level=NOTICE $(2) $(CMAKE_ARGS)

all: build

deps:
	@bash scripts/deps.sh

build:
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=Release)
	@cmake --build $(BUILD) -j $(JOBS)

# heaplab and hlmalloc under PREFIX, staged under DESTDIR if set (README.md, "Install").
install:
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX))
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# The secure build of hlmalloc: build/libhlmalloc-secure.so (also part of `make`).
secure:
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=Release)
	@cmake --build $(BUILD) -j $(JOBS) --target hlmalloc_secure

# Unit tests also run built with ASan+UBSan.
test-asan:
	@$(call configure,$(ASAN_BUILD),-DCMAKE_BUILD_TYPE=Debug -DHEAPLAB_SANITIZE=ON)
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@ASAN_OPTIONS=abort_on_error=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) -L unit --output-on-failure -j $(JOBS)

# Threaded unit tests under ThreadSanitizer. die_after_fork=0: hlmalloc restarts its
# purger thread in a fork child (prefork servers need it), which TSan refuses by default.
test-tsan:
	@$(call configure,$(TSAN_BUILD),-DCMAKE_BUILD_TYPE=Debug -DHEAPLAB_TSAN=ON)
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_bench_exec test_hlmalloc_stress test_hlmalloc_api test_hlmalloc_owncache \
		test_hlmalloc_stress_debug test_hlmalloc_fork test_hlmalloc_remote test_server_mailbox test_server_session
	@TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 ctest --test-dir $(TSAN_BUILD) -R '^(bench/exec|hlmalloc/(stress|api|stress-debug|fork|owncache|remote)|server/(mailbox|session))$$' --output-on-failure

test: deps build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan

# The headline comparison: every installed allocator x the standard suite at 1 and 2
# threads, medians of 5 interleaved repeats. Prints the tables, writes results/bench-*.json
# and beside it the HTML report (docs/report.md), whose path it prints last.
bench: deps build
	@mkdir -p $(RESULTS)
	@stamp=$$(date -u +%Y%m%dT%H%M%SZ) && \
		$(BUILD)/heaplab bench $(BENCH_ARGS) --json $(RESULTS)/bench-$$stamp.json \
			--report $(RESULTS)/bench-$$stamp.html

# The libFuzzer targets, FUZZ_TIME seconds each (make test runs each for 20): the trace
# reader's, the results reader's, and what heaplab serve reads from a page; the corpora grow
# in $(BUILD)/tests/fuzz/corpus*. Needs clang (scripts/deps.sh installs it).
fuzz: deps build
	@bash tests/fuzz/run_fuzz.sh $(BUILD)/tests/fuzz/fuzz_trace $(BUILD)/heaplab $(FUZZ_TIME)
	@bash tests/fuzz/run_fuzz_results.sh $(BUILD)/tests/fuzz/fuzz_results $(BUILD)/heaplab $(FUZZ_TIME)
	@bash tests/fuzz/run_fuzz_serve.sh $(BUILD)/tests/fuzz/fuzz_serve $(BUILD)/heaplab $(FUZZ_TIME)

# hlmalloc's soak (issue 17, item 6): 8 threads of random malloc/free/realloc/aligned and
# hand-offs, new threads every 2 s, forks, heap checks, against the HL_DEBUG=2 library, for
# SOAK_MINUTES (30); fails on a broken check or pattern or RSS growing after warm-up
# (docs/hlmalloc.md, "Soak"). Not part of make test.
soak: build
	@cmake --build $(BUILD) -j $(JOBS) --target hl_soak
	@$(BUILD)/tests/hl_soak $(SOAK_MINUTES) $(SOAK_SEED)

# Every figure of docs/performance.md (about 15 minutes).
perf: deps build
	@bash scripts/perf.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

lint: build
	@cppcheck --std=c11 --enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
		--quiet -Isrc -Iinclude -Itests --library=tests/lint/cjson.cfg src tests

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
