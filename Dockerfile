# self-heal + orchestrator image: `make image` (docker build -t self-heal:<version> .).
# Both binaries are static musl builds, made the way `make release-static` makes them here
# (tests/integration/ship.rs runs those); the final stage is distroless static, non-root, with
# no shell, no kubectl and no curl: `kubectl exec deploy/cortex-orchestrator -- self-heal ...`.
ARG RUST_VERSION=1.89
FROM rust:${RUST_VERSION}-slim-bookworm AS build
# musl-gcc compiles aws-lc (rustls' crypto provider) for the musl target.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CARGO_TERM_COLOR=never
WORKDIR /src

# Dependencies first, so a source edit does not rebuild them: the real manifests and lock file,
# with every target of the workspace stubbed (both crates' manifests must load).
COPY Cargo.toml Cargo.lock ./
# .cargo/config.toml builds aws-lc without CPU jitter entropy (30-45 ms at every process start)
# and mimalloc without its eager arena commit (the orchestrator's RSS stays near 10 MB idle).
COPY .cargo .cargo/
COPY kube-sim/Cargo.toml kube-sim/
RUN mkdir -p src/bin kube-sim/src kube-sim/tests/fidelity tests/integration \
    && for f in src/bin/self-heal.rs src/bin/orchestrator.rs kube-sim/src/main.rs; do echo 'fn main() {}' > "$f"; done \
    && touch src/lib.rs kube-sim/src/lib.rs tests/integration/main.rs kube-sim/tests/fidelity/main.rs \
    && cargo build --release --locked --target x86_64-unknown-linux-musl -p self-heal --bin self-heal --bin orchestrator \
    && rm -rf src target/x86_64-unknown-linux-musl/release/.fingerprint/self-heal-*

# The product's sources; kube-sim (test equipment) is not part of the image.
COPY src ./src
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p self-heal --bin self-heal --bin orchestrator \
    && mkdir /out \
    && cp target/x86_64-unknown-linux-musl/release/self-heal target/x86_64-unknown-linux-musl/release/orchestrator /out/

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/self-heal /usr/local/bin/self-heal
COPY --from=build /out/orchestrator /usr/local/bin/orchestrator
USER 65532:65532
ENV SELF_HEAL_WORKER_PATH=/usr/local/bin/self-heal
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/orchestrator"]
