# The `longrun` image: one binary, every role. Pick the role with the command:
#   docker run longrun:local api | worker | migrate | admin … | billing …
# Configuration comes from LONGRUN_* variables (README, "Configuration"); temporal-compose.yml
# runs the production-like stack from this image.
#
# Build: docker build -t longrun:local .

# ---- build stage -------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build

# protoc builds the Temporal SDK's protobuf types.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, against stub sources: this layer is reused until a manifest or the
# lock file changes, so editing our code rebuilds only our crates.
COPY Cargo.toml Cargo.lock ./
COPY domain/Cargo.toml domain/
COPY temporal/Cargo.toml temporal/
COPY api/Cargo.toml api/
COPY worker/Cargo.toml worker/
COPY workflows/Cargo.toml workflows/
COPY activities/Cargo.toml activities/
COPY store/Cargo.toml store/
COPY bench/Cargo.toml bench/
RUN mkdir -p src domain/src temporal/src api/src worker/src workflows/src activities/src store/src bench/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > bench/src/main.rs \
 && for crate in domain temporal api worker workflows activities store bench; do touch "$crate/src/lib.rs"; done \
 && cargo build --release --locked --bin longrun \
 && rm -rf src domain/src temporal/src api/src worker/src workflows/src activities/src store/src bench/src

# Our code. COPY keeps the files' own timestamps, which may be older than the stub build:
# touching them makes cargo rebuild our crates instead of reusing the stubs.
COPY . .
RUN find src domain/src temporal/src api/src worker/src workflows/src activities/src store/src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin longrun \
 && cp target/release/longrun /usr/local/bin/longrun

# ---- runtime stage -----------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 longrun \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/longrun \
      --shell /usr/sbin/nologin longrun \
 && mkdir -p /var/lib/longrun \
 && chown 10001:10001 /var/lib/longrun

COPY --from=build /usr/local/bin/longrun /usr/local/bin/longrun

# Listen on every interface inside the container (the defaults are loopback only); the data
# dir holds the workspaces' file-tool sandboxes (a volume mounted there starts owned by
# longrun).
ENV LONGRUN_LISTEN=0.0.0.0:8080 \
    LONGRUN_METRICS_LISTEN=0.0.0.0:9464 \
    LONGRUN_DATA_DIR=/var/lib/longrun

USER 10001:10001
WORKDIR /var/lib/longrun
# 8080: the API (`api`); 9464: /metrics, /healthz and /readyz of every role.
EXPOSE 8080 9464

ENTRYPOINT ["longrun"]
CMD ["api"]
