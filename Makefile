# self-heal: build, test, demo. `make test` is what CI runs (.ci/run).
CARGO ?= cargo
FEATURES := --workspace
BIN := target/debug

.PHONY: build test fmt-check lint unit demo completions man bench release clean

build:
	$(CARGO) build $(FEATURES) --bins

## fmt --check, clippy -D warnings, then every test (unit, and integration against kube-sim
## with the real kubectl).
test: fmt-check lint
	KUBECTL="$$(scripts/ensure-kubectl.sh)" $(CARGO) test $(FEATURES)

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy $(FEATURES) --all-targets -- -D warnings

## Starts kube-sim, breaks the demo service with kubectl and heals it with self-heal.
demo: build
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/demo.sh

completions: build
	$(BIN)/self-heal completions bash > completions/self-heal.bash
	$(BIN)/self-heal completions zsh > completions/_self-heal
	$(BIN)/self-heal completions fish > completions/self-heal.fish

man: build
	$(BIN)/self-heal man > man/self-heal.1

## On one kube-sim, in one run: `self-heal diagnose` beside one `kubectl get` and a one-curl
## floor of the same reads, and the time to a heal's first write (scripts/bench.sh); then the
## orchestrator's figures (scripts/bench-orchestrator.sh).
bench:
	$(CARGO) build $(FEATURES) --release --bins
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/bench.sh target/release
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/bench-orchestrator.sh target/release

## docs/console.png: the console after a live heal on kube-sim, from the browser test.
.PHONY: console-screenshot
console-screenshot:
	KUBECTL="$$(scripts/ensure-kubectl.sh)" CONSOLE_SCREENSHOT="$(CURDIR)/docs/console.png" \
		$(CARGO) test --test integration console::console_shows_a_live_heal_in_a_real_browser -- --exact

release:
	$(CARGO) build --release --bins

clean:
	$(CARGO) clean
