// Package redis holds Lifeboat's end-to-end tests of Redis backups and
// restores: real redis-server processes on loopback ports, each with its
// own data directory and an in-process sidecar worker on its task queue,
// the real workflows on a Temporal dev server and S3 on moto (see package
// testenv). They are skipped with -short.
//
//	go test -race -count=1 ./internal/integration/redis/ -v
package redis
