# Shoal: the two commands are `make demo` and `make test`; `make bench` runs the benchmarks.
# Build folders: build/debug (ASan+UBSan, tests), build/release (-O2, demo and benchmarks),
# build/fuzz (clang + libFuzzer).

MESON ?= meson
DEBUG := build/debug
RELEASE := build/release
FUZZ := build/fuzz

.PHONY: all deps demo test bench release fuzz layers clean

all: $(DEBUG)/build.ninja
	ninja -C $(DEBUG)

deps:
	@tools/install-deps.sh build

# A build folder is (re)configured when any meson.build is newer than it, so module folders that
# arrive with a merge (found by fs.is_file at configure time) are never missed.
MESON_FILES := $(shell find . -name meson.build -not -path './build/*' -not -path './node_modules/*') meson_options.txt

$(DEBUG)/build.ninja: $(MESON_FILES)
	@tools/install-deps.sh build
	$(MESON) setup $(DEBUG) $(if $(wildcard $(DEBUG)/build.ninja),--reconfigure) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
	@touch $@

$(RELEASE)/build.ninja: $(MESON_FILES)
	@tools/install-deps.sh build
	$(MESON) setup $(RELEASE) $(if $(wildcard $(RELEASE)/build.ninja),--reconfigure) --buildtype=release
	@touch $@

demo: $(RELEASE)/build.ninja
	@ninja -C $(RELEASE) >/dev/null || ninja -C $(RELEASE)
	@tools/demo.sh $(RELEASE)

test: $(DEBUG)/build.ninja
	@ninja -C $(DEBUG)
	@tools/run-tests.sh $(DEBUG) $(TESTARGS)

release: $(RELEASE)/build.ninja
	ninja -C $(RELEASE)

bench: $(RELEASE)/build.ninja
	ninja -C $(RELEASE)
	@tools/run-bench.sh $(RELEASE)

fuzz:
	@tools/install-deps.sh ci
	@CC=clang $(MESON) setup $(FUZZ) $(if $(wildcard $(FUZZ)/build.ninja),--reconfigure) --buildtype=debugoptimized -Dfuzz=true -Db_lundef=false >/dev/null
	ninja -C $(FUZZ)
	@tools/run-fuzz.sh $(FUZZ) $${FUZZ_SECONDS:-60}

layers:
	@python3 tools/check-layers.py .

clean:
	rm -rf build
