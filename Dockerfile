# syntax=docker/dockerfile:1
#
#   docker build -t rowguard --build-arg VERSION=1.0.0 .
#   docker run --rm -e DATABASE_URL=... -e ROWGUARD_JWT_PRIVATE_KEY="$(cat key.pem)" -p 8080:8080 rowguard
#   docker run --rm -e MIGRATION_DATABASE_URL=... rowguard migrate
#
# The image has no PostgreSQL: DATABASE_URL is required (development mode, which starts
# a private cluster, is for a workstation). The SQL is embedded in the binary.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/rowguard/rowguard.Version=${VERSION}" \
      -o /out/rowguard ./cmd/rowguard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rowguard /usr/local/bin/rowguard
USER nonroot:nonroot
# Inside a container the server must listen on every interface to be reachable.
ENV ROWGUARD_ADDR=:8080
EXPOSE 8080
# The management listener (GET /metrics, /healthz, /readyz) likewise: on loopback no
# scraper outside the container could reach it. Only the container network does, until
# you publish it (docker run -p 127.0.0.1:9464:9464, or scrape the container's address
# from your Prometheus). Deliberately not EXPOSEd: `docker run -P` would then publish
# the metrics on every interface of the host. ROWGUARD_MANAGEMENT_ADDR=off disables it.
ENV ROWGUARD_MANAGEMENT_ADDR=0.0.0.0:9464
ENTRYPOINT ["/usr/local/bin/rowguard"]
CMD ["serve"]
