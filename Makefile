# Lifeboat: see README.md. Every target installs what it needs.
SHELL := /bin/bash
GOBIN := $(shell go env GOPATH)/bin
TEMPORAL_VERSION := v1.5.1
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GOBIN)/staticcheck
GREMLINS_VERSION := v0.6.0
GREMLINS := $(GOBIN)/gremlins
export TEMPORAL_BIN ?= $(GOBIN)/temporal
# The AWS emulator's profile for up, demo, demo-snapshots, e2e, bench and the
# tests' own launchers: aws (AWS's timings: jobs take time, PITR and EBS
# eventual-consistency windows) or fast (everything at once). Extra launcher
# flags for the stack: EMULATOR_ARGS="--fault-rate 0.05". See docs/emulator.md.
export EMULATOR_PROFILE ?= aws

.PHONY: all build install tools up down status demo test unit integration bench chaos lint clean demo-snapshots e2e \
	up-cluster down-cluster test-cluster mutation

# The commit goes into the binaries (lifeboat version, worker --version) even
# where GOFLAGS says -buildvcs=false; auto leaves it out outside a checkout.
BUILDFLAGS ?= -buildvcs=auto

all: build

build:
	@mkdir -p bin
	go build $(BUILDFLAGS) -o bin/lifeboat ./starter
	go build $(BUILDFLAGS) -o bin/worker ./worker

# `lifeboat` (the CLI) and `lifeboat-worker` into BINDIR: $(go env GOBIN), else
# $(go env GOPATH)/bin, as go install does; PREFIX=/usr/local installs into
# /usr/local/bin; BINDIR=<dir> into <dir>. The worker is lifeboat-worker on
# PATH, not worker, so it cannot shadow another program's.
PREFIX ?=
BINDIR ?= $(if $(PREFIX),$(PREFIX)/bin,$(or $(shell go env GOBIN),$(GOBIN)))
install:
	@mkdir -p "$(BINDIR)"
	go build $(BUILDFLAGS) -o "$(BINDIR)/lifeboat" ./starter
	go build $(BUILDFLAGS) -o "$(BINDIR)/lifeboat-worker" ./worker
	@case ":$$PATH:" in *":$(BINDIR):"*) echo "installed lifeboat and lifeboat-worker in $(BINDIR)" ;; \
	  *) echo "installed lifeboat and lifeboat-worker in $(BINDIR), which is not on PATH: add it (export PATH=\"$(BINDIR):\$$PATH\")" ;; esac

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

# Browser check (README, "Browser check"): the stack as make up starts it (same
# ports; it stays up), headless Chromium (Debian package, installed if missing)
# opens the Web UI filtered by LifeboatOperation="backup" and asserts a finished
# backup is listed, and renders `lifeboat report --output html` checking each
# row's colour; screenshots go to out/e2e/ (git-ignored), or refresh
# README's docs/images/ with UPDATE_IMAGES=1.
E2E_OUT = $(if $(filter 1 true yes,$(UPDATE_IMAGES)),$(CURDIR)/docs/images,$(CURDIR)/out/e2e)
e2e: tools build
	@scripts/install-chromium.sh
	@scripts/stack.sh up
	LIFEBOAT_E2E_OUT=$${LIFEBOAT_E2E_OUT:-$(E2E_OUT)} TEMPORAL_ADDRESS=127.0.0.1:$${TEMPORAL_PORT:-7233} LIFEBOAT_UI_URL=http://127.0.0.1:$${TEMPORAL_UI_PORT:-8233} \
	  AWS_ENDPOINT_URL=http://127.0.0.1:$${MOTO_PORT:-5000} go test -tags e2e -count=1 -timeout 10m -v ./internal/e2e/

# gofmt, go vet, staticcheck (installed if missing), go.mod tidy, and the
# layout rule: nothing in internal/ (test harnesses aside) depends on
# workflows/, activities/ or starter/. examples/gate-app is a module of its
# own (./... stops at its go.mod): the same checks run there; its test runs
# from gate/outside_module_test.go.
lint:
	@test -x $(STATICCHECK) || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./internal/e2e/
	$(STATICCHECK) ./...
	go mod tidy -diff
	cd examples/gate-app && go vet ./... && $(STATICCHECK) ./... && go mod tidy -diff
	@scripts/check-imports.sh

test: tools lint
	go test -race -count=1 -timeout 20m ./...

unit:
	go test -race -count=1 -short ./...

integration: tools
	go test -race -count=1 -timeout 20m -run Integration ./internal/integration/...

# A throw-away Temporal cluster (server v1.29.1 as two processes on
# PostgreSQL, set up by deploy/temporal/ as docker-compose.yml is) on ports
# LIFEBOAT_CLUSTER_PORT (17233) and LIFEBOAT_CLUSTER_PG_PORT (15432); builds
# the server and installs PostgreSQL if missing. README, "Running on a
# production Temporal cluster (PostgreSQL)".
up-cluster: tools
	@scripts/cluster.sh up

down-cluster:
	@scripts/cluster.sh down

# up-cluster, the integration suites against it (two workers per test
# package; CLUSTER_TEST_RUN=regexp narrows them), down-cluster always.
test-cluster: tools
	@scripts/cluster.sh test

# The chaos suite (README, "Chaos suite"): the kill test (kill -9 of the
# only worker inside a backup's and a restore's pause), then CHAOS_RUNS runs
# of each scenario of internal/integration/chaos (dataset, EBS, Redis) under
# 10 % AWS faults with a worker or sidecar killed at a random point; prints
# a table of runs, faults, kills, worst pause, duplicates and failures.
# CHAOS_SEED=<seed> replays a run's choices; CHAOS_TESTS narrows the
# scenarios (e.g. CHAOS_TESTS=ChaosRedis). It also runs the widest request
# (README, "Limits"): a backup and a restore of one environment of 1,000
# datasets on its own dev server and emulator (LIFEBOAT_WIDE=1).
CHAOS_RUNS ?= 20
CHAOS_TESTS ?= KilledWorker|Chaos|WidestEnvironment
chaos: tools
	LIFEBOAT_CHAOS=1 LIFEBOAT_WIDE=1 CHAOS_RUNS=$(CHAOS_RUNS) go test -race -count=1 -timeout 180m -run '$(CHAOS_TESTS)' -v \
	  ./internal/integration/ ./internal/integration/chaos/

# Mutation testing (README, "Mutation testing"): gremlins (installed if
# missing; settings in .gremlins.yaml) mutates each package of MUTATION_PKGS
# in turn, its subpackages excluded (-E /), and runs that package's unit
# tests (GOFLAGS=-short: no test starts a server) against every mutant.
# gate's unit tests run it over an in-memory DynamoDB that enforces its
# condition checks; its emulator tests are skipped.
# Prints the mutants left alive and each package's efficacy and mutant
# coverage; fails when a package's efficacy is below 90 %.
MUTATION_PKGS ?= internal/ebstags internal/ids internal/backupstore internal/redisbackup \
	workflows workflows/dataset workflows/ebs workflows/redis gate \
	activities activities/dataset activities/ebs activities/redis
mutation:
	@test -x $(GREMLINS) || go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	@set -o pipefail; failed=; for p in $(MUTATION_PKGS); do echo "== $$p"; \
	  GOFLAGS=-short $(GREMLINS) unleash -E / -S lt ./$$p 2>&1 | \
	    grep -Ev '^(Starting|Gathering coverage)|^$$' || failed="$$failed $$p"; done; \
	  if [ -n "$$failed" ]; then echo "mutation: below 90 % efficacy (or failed to run):$$failed"; exit 1; fi

bench: tools
	go test -run '^$$' -bench . -benchtime 1x -timeout 90m ./internal/integration/...

clean:
	rm -rf bin
