# Shoal: the two commands are `make demo` and `make test`; `make bench` runs the benchmarks.
# Build folders: build/debug (ASan+UBSan, tests), build/release (-O2, demo and benchmarks),
# build/fuzz (clang + libFuzzer).

MESON ?= meson
DEBUG := build/debug
RELEASE := build/release
FUZZ := build/fuzz

.PHONY: all deps demo test bench fuzz layers clean

all: $(DEBUG)/build.ninja
	ninja -C $(DEBUG)

deps:
	@tools/install-deps.sh build

$(DEBUG)/build.ninja:
	@tools/install-deps.sh build
	$(MESON) setup $(DEBUG) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

$(RELEASE)/build.ninja:
	@tools/install-deps.sh build
	$(MESON) setup $(RELEASE) --buildtype=release

demo: $(RELEASE)/build.ninja
	@ninja -C $(RELEASE) >/dev/null || ninja -C $(RELEASE)
	@tools/demo.sh $(RELEASE)

test: $(DEBUG)/build.ninja
	@ninja -C $(DEBUG)
	@tools/run-tests.sh $(DEBUG) $(TESTARGS)

bench: $(RELEASE)/build.ninja
	ninja -C $(RELEASE)
	@tools/run-bench.sh $(RELEASE)

fuzz:
	@tools/install-deps.sh ci
	@[ -f $(FUZZ)/build.ninja ] || CC=clang $(MESON) setup $(FUZZ) --buildtype=debugoptimized -Dfuzz=true -Db_lundef=false
	ninja -C $(FUZZ)
	@tools/run-fuzz.sh $(FUZZ) $${FUZZ_SECONDS:-60}

layers:
	@python3 tools/check-layers.py .

clean:
	rm -rf build
