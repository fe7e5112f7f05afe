# Posthorn developer entry points. Everything builds with Meson into build*/.
#   make          build (debug + optimisation)
#   make run      start posthornd --dev on localhost, data in run/
#   make test     unit + integration tests (SANITIZE=1 for ASan+UBSan);
#                 the integration tests once per store in TEST_STORES
#                 (TEST_STORES="sqlite pgsql": again on a throwaway PostgreSQL)
#   make bench    benchmarks on a release build
#   make fuzz     libFuzzer targets, FUZZ_SECONDS each (clang)
#   make install  install into PREFIX (default /usr/local)

PREFIX ?= /usr/local
SANITIZE ?= 0
FUZZ_SECONDS ?= 60
RUN_DIR ?= run
PORT_OFFSET ?= 0
# The store drivers the integration tests run on, one after the other,
# and those of them the hostile and dialogue tests run on too.
TEST_STORES ?= sqlite pgsql
FRONTEND_STORES ?= $(firstword $(TEST_STORES))

ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-san
MESON_OPTS += -Db_sanitize=address,undefined -Db_lundef=false
else
BUILD_DIR ?= build
endif

.PHONY: all deps build run test bench fuzz install clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja: | deps
	meson setup $(BUILD_DIR) --prefix=$(PREFIX) $(MESON_OPTS)

build: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR)

run: build
	$(BUILD_DIR)/src/daemon/posthornd --dev --data-dir $(RUN_DIR) --port-offset $(PORT_OFFSET)

test: build
	POSTHORN_TEST_STORES="$(TEST_STORES)" POSTHORN_TEST_FRONTEND_STORES="$(FRONTEND_STORES)" \
		/usr/bin/python3 scripts/run-tests $(BUILD_DIR)

build-bench/build.ninja: | deps
	meson setup build-bench --buildtype=release

bench: deps build-bench/build.ninja
	ninja -C build-bench
	bench/run build-bench

build-fuzz/build.ninja: | deps
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link

fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz
	scripts/run-fuzz build-fuzz $(FUZZ_SECONDS)

install: build
	meson configure $(BUILD_DIR) --prefix=$(PREFIX)
	meson install -C $(BUILD_DIR) $(if $(DESTDIR),--destdir $(DESTDIR))

clean:
	rm -rf build build-san build-bench build-fuzz
