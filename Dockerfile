# self-heal + orchestrator image. Build: docker build -t self-heal .
# Static musl binaries on a distroless base: no shell, no kubectl, non-root.
FROM rust:1.89-alpine AS build
RUN apk add --no-cache musl-dev cmake make perl clang
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY kube-sim/Cargo.toml kube-sim/
RUN mkdir -p src/bin kube-sim/src kube-sim/tests/fidelity tests/integration \
    && echo 'fn main() {}' > src/bin/self-heal.rs && echo 'fn main() {}' > src/bin/orchestrator.rs \
    && touch src/lib.rs kube-sim/src/lib.rs tests/integration/main.rs kube-sim/tests/fidelity/main.rs \
    && echo 'fn main() {}' > kube-sim/src/main.rs \
    && cargo build --release --locked -p self-heal --bins
COPY src ./src
RUN touch src/lib.rs src/bin/*.rs \
    && cargo build --release --locked -p self-heal --bin self-heal --bin orchestrator \
    && mkdir /out && cp target/release/self-heal target/release/orchestrator /out/

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/self-heal /out/orchestrator /usr/local/bin/
USER 65532:65532
ENV SELF_HEAL_WORKER_PATH=/usr/local/bin/self-heal
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/orchestrator"]
