# Thin wrapper over Meson. `make run` boots the default guest; `make test` runs every test.
BUILD      ?= build
SANBUILD   ?= build/san
FUZZ_SECONDS ?= 10

.PHONY: all setup build san guest run test unit fuzz bench clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(SANBUILD)/build.ninja:
	CC=clang meson setup $(SANBUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Db_lto=false -Dfuzz=true -Dbuildtype=debug >/dev/null

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD) -j2 >/dev/null

san: setup $(SANBUILD)/build.ninja
	ninja -C $(SANBUILD) -j2 >/dev/null

guest: setup
	@guest/build.sh $(BUILD)/guest

run: build guest
	@BUILD=$(BUILD) scripts/run.sh

test: build san guest
	@BUILD=$(BUILD) SANBUILD=$(SANBUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh

bench: build guest
	bench/exits.sh

clean:
	rm -rf $(BUILD)
