# syntax=docker/dockerfile:1
#
#   docker build -t rowguard --build-arg VERSION=1.0.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git show -s --format=%cI) .
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
# The build context has no .git (.dockerignore), so the go command records no commit:
# pass it, e.g. --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(git show -s --format=%cI).
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/rowguard/rowguard.Version=${VERSION} -X github.com/rowguard/rowguard.Commit=${COMMIT} -X github.com/rowguard/rowguard.BuildDate=${DATE}" \
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
