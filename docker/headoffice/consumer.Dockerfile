# kb-headoffice: every outlet's events into PostgreSQL (docs/HEADOFFICE.md).
# Build context: the repository root.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make cmake pkg-config \
        libmosquitto-dev libcjson-dev libwebsockets-dev libsqlite3-dev libssl-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY bridge bridge
COPY headoffice headoffice
COPY packaging packaging
COPY tests/CMakeLists.txt tests/
COPY tests/bench tests/bench
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNODE=/bin/false -DKB_BROKER=OFF >/dev/null \
 && cmake --build build --target kb-headoffice -j"$(nproc)" \
 && strip build/headoffice/kb-headoffice

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmosquitto1 libcjson1 libpq5 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --gid 10002 kbho \
 && useradd --uid 10002 --gid kbho --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kbho
COPY --from=build /src/build/headoffice/kb-headoffice /usr/local/bin/kb-headoffice
USER kbho
ENTRYPOINT ["/usr/local/bin/kb-headoffice"]
