// Package integration holds Lifeboat's end-to-end tests and benchmarks: the
// real workflows on a Temporal dev server, two workers and moto (see package
// testenv). They are skipped with -short.
//
//	go test -race -count=1 ./internal/integration/
//	go test -run '^$' -bench . -benchtime 1x ./internal/integration/
package integration
