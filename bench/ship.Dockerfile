# Row 7 of `cargo xtask bench` (xtask/src/bench/ship.rs): what `ship pack` does, as a
# multi-stage build. Both stages start from the local test images; nothing is pulled.
FROM tanto-test/rust:1.95 AS build
COPY . /src
WORKDIR /src
ENV RUSTFLAGS="-C target-feature=+crt-static" CARGO_TERM_COLOR=never
RUN cargo build --release --offline --target x86_64-unknown-linux-gnu

FROM tanto-test/busybox:latest
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/hello-service /app/hello-service
ENTRYPOINT ["/app/hello-service"]
EXPOSE 8080
LABEL org.opencontainers.image.title=hello-service
