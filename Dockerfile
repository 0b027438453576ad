# aisnode container image: a static binary in an empty (scratch) image, run as non-root.
#
# Full build (needs the rust:alpine base image from a registry):
#   docker build -t aisnode .
# From a prebuilt static binary, offline (what CI does; no base image is pulled):
#   cargo build --release --target x86_64-unknown-linux-musl
#   docker build --target prebuilt -t aisnode .
# (BINARY_DIR picks another folder holding the static `aisnode` binary.)
#
# The stage order matters: the legacy builder stops at --target, so `prebuilt` never
# touches the builder stage below it.

ARG BINARY_DIR=target/x86_64-unknown-linux-musl/release

FROM scratch AS base
# Data directories owned by the runtime user, so Docker volumes mounted there start writable.
COPY --chown=10001:10001 deploy/docker/rootfs/ /
USER 10001:10001
ENV AIS_HOST=0.0.0.0
EXPOSE 8080 8081
# Exec form: there is no shell in the image. The probe reads AIS_PORT for the port.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/aisnode", "health"]
ENTRYPOINT ["/usr/local/bin/aisnode"]
CMD ["--help"]

FROM base AS prebuilt
ARG BINARY_DIR
COPY --chown=0:0 ${BINARY_DIR}/aisnode /usr/local/bin/aisnode

FROM rust:1.95-alpine AS builder
# musl-dev and gcc (mimalloc's C source) follow the base image's Alpine release; pinning
# them would break on every rebuild.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev gcc
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bins \
 && install -D target/release/aisnode /out/aisnode

FROM base AS runtime
COPY --from=builder --chown=0:0 /out/ /usr/local/bin/
