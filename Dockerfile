# The Lifeboat worker and CLI in one image (used by docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/worker ./worker && CGO_ENABLED=0 go build -o /out/lifeboat ./starter

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/worker /out/lifeboat /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/worker"]
