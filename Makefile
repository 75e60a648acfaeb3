# The two commands a fresh machine needs: `make demo` and `make test`.
# Both install what is missing first.

SWIFT ?= swift
RELEASE_FLAGS = -c release --static-swift-stdlib

.PHONY: all build demo test bench deps test-deps clean

all: build

deps:
	@board/install-deps.sh build

test-deps:
	@board/install-deps.sh test

build: deps
	$(SWIFT) build

## Runs hal-sim and qlinkd on the simulated board and shows `qlinkctl top`.
demo: deps
	$(SWIFT) build
	board/sim/demo.sh .build/debug

## Unit, integration and peer tests (real hostapd, wpa_supplicant, hostapd_cli, gpsd).
## One test at a time: many start real processes and peers, and a 2-core machine running
## them all at once starves its own waits.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

## Release build; prints one JSON object per benchmark.
bench: test-deps
	$(SWIFT) build $(RELEASE_FLAGS)
	.build/release/qlink-bench --bin .build/release

clean:
	rm -rf .build
