# The Lifeboat worker and CLI in one image (docker-compose.yml builds it as
# lifeboat:local; the entrypoint is the worker, the CLI is
# /usr/local/bin/lifeboat).
#
# GO_VERSION must be at least go.mod's `go` line: the golang images set
# GOTOOLCHAIN=local, so an older Go refuses to build instead of fetching one.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/worker ./worker && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/lifeboat ./starter

# Static binaries: distroless has CA certificates and time zones, no shell.
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/worker /out/lifeboat /usr/local/bin/
# Prometheus metrics when LIFEBOAT_METRICS_ADDR=:9090 (as docker-compose.yml sets).
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/worker"]
