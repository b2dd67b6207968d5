# Lifeboat: see README.md. Every target installs what it needs.
SHELL := /bin/bash
GOBIN := $(shell go env GOPATH)/bin
TEMPORAL_VERSION := v1.5.1
export TEMPORAL_BIN ?= $(GOBIN)/temporal

.PHONY: all build tools up down status demo test unit integration bench lint clean demo-snapshots

all: build

build:
	@mkdir -p bin
	go build -o bin/lifeboat ./starter
	go build -o bin/worker ./worker

# The Temporal CLI (dev server + Web UI) and moto server, if missing.
tools:
	@scripts/install-tools.sh

up: tools
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

demo: tools build
	@scripts/stack.sh up
	@scripts/demo.sh

# The EBS snapshot demo: the stack, then instances, volumes and older snapshots
# seeded on moto (README, "EBS snapshots"); prints the commands to try.
demo-snapshots: tools build
	@scripts/stack.sh up
	@python3 scripts/seed_ec2.py

test: tools
	go vet ./...
	go test -race -count=1 -timeout 20m ./...

unit:
	go test -race -count=1 -short ./...

integration: tools
	go test -race -count=1 -timeout 20m -run Integration ./internal/integration/...

bench: tools
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/integration/...

clean:
	rm -rf bin
