# self-heal: build, test, demo. `make test` is what CI runs (.ci/run).
CARGO ?= cargo
FEATURES := --workspace
BIN := target/debug

.PHONY: build test fmt-check lint unit demo completions man bench release clean release-static install install-files image

build:
	$(CARGO) build $(FEATURES) --bins

## fmt --check, clippy -D warnings, then every test (unit, and integration against kube-sim
## with the real kubectl).
test: fmt-check lint
	KUBECTL="$$(scripts/ensure-kubectl.sh)" $(CARGO) test $(FEATURES)

## `make chaos`: the fault suite (tests/integration/chaos) with a fresh random seed and
## CHAOS_RUNS (default 8) randomized incidents; `make test` runs it with a fixed seed and 2.
.PHONY: chaos
chaos:
	@seed="$${CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"; echo "CHAOS_SEED=$$seed (replay: make chaos CHAOS_SEED=$$seed)"; \
	  CHAOS_SEED="$$seed" CHAOS_RUNS="$${CHAOS_RUNS:-8}" KUBECTL="$$(scripts/ensure-kubectl.sh)" $(CARGO) test --test integration chaos::

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy $(FEATURES) --all-targets -- -D warnings

## Starts kube-sim, breaks the demo service with kubectl and heals it with self-heal.
demo: build
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/demo.sh

## Completion scripts (bash, zsh, fish, powershell, elvish) and man pages (one per subcommand)
## of both binaries, from their clap definitions. The test `ship::manuals` fails when they are
## stale; with UPDATE_MANUALS=1 it rewrites them instead.
completions man:
	UPDATE_MANUALS=1 $(CARGO) test --test integration -- ship::manuals::committed_completions_and_man_pages_are_current

## On one kube-sim, in one run: `self-heal diagnose` beside one `kubectl get` and a one-curl
## floor of the same reads, and the time to a heal's first write (scripts/bench.sh); then the
## orchestrator's figures (scripts/bench-orchestrator.sh).
bench:
	$(CARGO) build $(FEATURES) --release --bins
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/bench.sh target/release
	KUBECTL="$$(scripts/ensure-kubectl.sh)" scripts/bench-orchestrator.sh target/release

## `make mutants`: mutation testing of the healing core with cargo-mutants (installed from the
## crate registry on first use). MUTANTS_FILES: files to mutate (globs); MUTANTS_TARGETS: the
## test targets built and run for each mutant (default: unit tests and the integration binary);
## MUTANTS_FILTER: test-name filters for them (default: the self-heal scenarios, not the
## orchestrator's); MUTANTS_TIMEOUT: seconds per test run; MUTANTS_JOBS: mutants at once;
## MUTANTS_SURVIVORS_OF: a copy of an earlier run's output directory, to test only what it missed
## or timed out on (scripts/mutants-survivors.sh); MUTANTS_ARGS: more cargo-mutants options, e.g.
## `--in-diff changes.diff`, `--sharding round-robin --shard 0/8` (a sample), `--list`.
## Not part of `make test`: every mutant is a rebuild plus the tests, about 1 min with the unit
## tests alone and 2-3 min with the heal scenarios on 2 cores, so the whole set (899 mutants)
## takes 10-25 hours. Two tiers fit a session: the unit tests on a sample,
##   make mutants MUTANTS_TARGETS=--lib MUTANTS_FILTER= MUTANTS_ARGS="--sharding round-robin --shard 0/8"
##   cp -r target/mutants/mutants.out target/mutants-tier1
## then the default targets on its survivors: make mutants MUTANTS_SURVIVORS_OF=target/mutants-tier1
## Survivors that no user could tell apart are listed in tests/mutants-equivalent.md.
MUTANTS_FILES ?= src/decide.rs src/act.rs src/heal/*.rs src/safety.rs src/verify.rs src/verify/*.rs src/wait.rs src/resolve.rs src/diagnose/checks.rs
MUTANTS_TIMEOUT ?= 600
MUTANTS_JOBS ?= 1
MUTANTS_ARGS ?=
MUTANTS_TARGETS ?= --lib --test integration
MUTANTS_FILTER ?= --skip orchestrator --skip console --skip browser --skip chaos --skip ship
MUTANTS_SURVIVORS_OF ?=
.PHONY: mutants
mutants:
	@command -v cargo-mutants >/dev/null 2>&1 || $(CARGO) install --locked cargo-mutants
	@set -e; survivors=; \
	if [ -n '$(MUTANTS_SURVIVORS_OF)' ]; then survivors="$$(scripts/mutants-survivors.sh '$(MUTANTS_SURVIVORS_OF)')"; fi; \
	set -x; KUBECTL="$$(scripts/ensure-kubectl.sh)" $(CARGO) mutants --package self-heal \
	  $(foreach f,$(MUTANTS_FILES),--file '$(f)') --jobs $(MUTANTS_JOBS) --timeout $(MUTANTS_TIMEOUT) \
	  --output target/mutants $(foreach t,$(MUTANTS_TARGETS),--cargo-arg=$(t)) $${survivors:+--re "$$survivors"} \
	  $(MUTANTS_ARGS) -- $(MUTANTS_FILTER)

## docs/console.png: the console after a live heal on kube-sim, from the browser test.
.PHONY: console-screenshot
console-screenshot:
	KUBECTL="$$(scripts/ensure-kubectl.sh)" CONSOLE_SCREENSHOT="$(CURDIR)/docs/console.png" \
		$(CARGO) test --test integration console::console_shows_a_live_heal_in_a_real_browser -- --exact

release:
	$(CARGO) build --release --bins

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MUSL := x86_64-unknown-linux-musl
STATIC := target/$(MUSL)/release

## Static musl binaries of self-heal and the orchestrator in target/x86_64-unknown-linux-musl/
## release, as the Dockerfile builds them (needs musl-gcc: Debian's musl-tools).
release-static:
	@rustup target list --installed | grep -qx '$(MUSL)' || rustup target add $(MUSL)
	@command -v musl-gcc >/dev/null || { echo 'release-static: musl-gcc not found; install it (Debian: apt-get install musl-tools)' >&2; exit 1; }
	CC_x86_64_unknown_linux_musl=musl-gcc $(CARGO) build --release --locked --target $(MUSL) -p self-heal --bin self-heal --bin orchestrator

## The container image (Dockerfile): needs a Docker engine.
IMAGE ?= self-heal:$(VERSION)
image:
	@command -v docker >/dev/null || { echo 'image: docker not found' >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo 'image: no Docker engine reachable (docker info failed); build where one runs' >&2; exit 1; }
	docker build -t $(IMAGE) .

## Installs into $(DESTDIR)$(PREFIX): self-heal, orchestrator, kubectl-self_heal (the kubectl
## plugin: `kubectl self-heal heal <svc>`), completions and man pages. Builds release binaries
## first; `make install-files BINS=<dir>` installs already built ones (e.g. $(STATIC)).
PREFIX ?= /usr/local
BINS ?= target/release
INSTALL ?= install
install: release install-files

install-files:
	@test -x '$(BINS)/self-heal' && test -x '$(BINS)/orchestrator' || { echo 'install: no self-heal and orchestrator in $(BINS)' >&2; exit 1; }
	$(INSTALL) -d '$(DESTDIR)$(PREFIX)/bin' '$(DESTDIR)$(PREFIX)/share/man/man1' \
	  '$(DESTDIR)$(PREFIX)/share/bash-completion/completions' '$(DESTDIR)$(PREFIX)/share/zsh/site-functions' \
	  '$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d' '$(DESTDIR)$(PREFIX)/share/self-heal/completions'
	$(INSTALL) -m 755 '$(BINS)/self-heal' '$(BINS)/orchestrator' '$(DESTDIR)$(PREFIX)/bin/'
	ln -sf self-heal '$(DESTDIR)$(PREFIX)/bin/kubectl-self_heal'
	$(INSTALL) -m 644 man/*.1 '$(DESTDIR)$(PREFIX)/share/man/man1/'
	for b in self-heal orchestrator; do \
	  if test -f completions/$$b.bash; then \
	    $(INSTALL) -m 644 completions/$$b.bash '$(DESTDIR)$(PREFIX)/share/bash-completion/completions/'$$b && \
	    $(INSTALL) -m 644 completions/_$$b '$(DESTDIR)$(PREFIX)/share/zsh/site-functions/' && \
	    $(INSTALL) -m 644 completions/$$b.fish '$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/' && \
	    $(INSTALL) -m 644 completions/_$$b.ps1 completions/$$b.elv '$(DESTDIR)$(PREFIX)/share/self-heal/completions/' \
	    || exit 1; \
	  fi; \
	done

clean:
	$(CARGO) clean
