# quotad's container image: a static binary on distroless, as a non-root
# user. Build: docker build -t quotad .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/quotad ./cmd/quotad

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/quotad /usr/local/bin/quotad
USER 65532:65532
# gRPC, the plaintext health listener (when -health-listen is set), metrics.
EXPOSE 7070 7071 9464
ENTRYPOINT ["/usr/local/bin/quotad"]
