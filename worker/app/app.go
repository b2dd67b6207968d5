// Package app assembles a Lifeboat worker: it registers every workflow and
// activity on a task queue. The worker binary and the integration tests
// both build workers here.
package app

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// RegisterWorkflows registers every workflow under its public type name.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(dataset.Backup, workflow.RegisterOptions{Name: dataset.BackupName})
	r.RegisterWorkflowWithOptions(dataset.Restore, workflow.RegisterOptions{Name: dataset.RestoreName})
	r.RegisterWorkflowWithOptions(dataset.Verify, workflow.RegisterOptions{Name: dataset.VerifyName})
	r.RegisterWorkflowWithOptions(dataset.RestoreTest, workflow.RegisterOptions{Name: dataset.RestoreTestName})
	r.RegisterWorkflowWithOptions(redis.Backup, workflow.RegisterOptions{Name: redis.BackupName})
	r.RegisterWorkflowWithOptions(redis.Restore, workflow.RegisterOptions{Name: redis.RestoreName})
	r.RegisterWorkflowWithOptions(redis.Verify, workflow.RegisterOptions{Name: redis.VerifyName})
	r.RegisterWorkflowWithOptions(redis.RestoreTest, workflow.RegisterOptions{Name: redis.RestoreTestName})
	registerSnapshotWorkflows(r)
}

// RegisterActivities registers every activity group, built on the given clients.
func RegisterActivities(r worker.ActivityRegistry, cfg config.Config, aws *awsx.Clients) {
	reg := NewRegistry(cfg, aws)
	r.RegisterActivity(&datasetact.Datasets{Registry: reg, S3: aws.Buckets})
	r.RegisterActivity(&datasetact.DynamoDB{DB: aws.DynamoDB, PollInterval: cfg.PollInterval})
	r.RegisterActivity(&datasetact.BackupFiles{S3: aws.Buckets})
	r.RegisterActivity(&datasetact.Copies{S3: aws.Buckets})
	r.RegisterActivity(&datasetact.RestoreTests{Registry: reg, DB: aws.DynamoDB, S3: aws.Buckets})
	r.RegisterActivity(&activities.Checks{Env: checkEnv(aws), Allowed: cfg.AllowCheckCommands})
	r.RegisterActivity(&redisact.Clusters{Registry: reg, S3: aws.Buckets, AllowCheckCommands: cfg.AllowCheckCommands})
	r.RegisterActivity(&redisact.Copies{S3: aws.Buckets})
	r.RegisterActivity(NewEBS(cfg, aws))
}

// checkEnv is what every restore test's check command is told besides its
// target: the region and endpoint the worker's AWS clients use (an endpoint
// set in the configuration rather than in AWS_ENDPOINT_URL would otherwise
// be lost to the command).
func checkEnv(c *awsx.Clients) map[string]string {
	env := map[string]string{}
	if c.Config.Region != "" {
		env["AWS_REGION"] = c.Config.Region
	}
	if c.Config.BaseEndpoint != nil && *c.Config.BaseEndpoint != "" {
		env["AWS_ENDPOINT_URL"] = *c.Config.BaseEndpoint
	}
	return env
}

// NewRegistry is the control table as configured.
func NewRegistry(cfg config.Config, aws *awsx.Clients) *registry.Registry {
	return &registry.Registry{DB: aws.DynamoDB, Table: cfg.ControlTable, TablePrefix: cfg.TablePrefix}
}

// New makes sure the control table exists and builds a worker on the
// configured task queue with everything registered.
func New(ctx context.Context, c client.Client, cfg config.Config, aws *awsx.Clients, opts worker.Options) (worker.Worker, error) {
	if err := NewRegistry(cfg, aws).EnsureControlTable(ctx); err != nil {
		return nil, fmt.Errorf("prepare control table: %w", err)
	}
	opts.Interceptors = append(opts.Interceptors, &activities.DeniedInterceptor{})
	w := worker.New(c, cfg.TaskQueue, opts)
	RegisterWorkflows(w)
	RegisterActivities(w, cfg, aws)
	return w, nil
}

// NewRedisSidecar builds the worker that runs beside one Redis node: it
// serves only the node's task queue (<task queue>-redis-<node>) and only
// the node-local activities. node is the node's configuration; its S3
// client is filled in from aws when missing.
func NewRedisSidecar(c client.Client, cfg config.Config, aws *awsx.Clients, node *redisact.Node, opts worker.Options) (worker.Worker, error) {
	if err := ids.Validate("node", node.NodeID); err != nil {
		return nil, err
	}
	if err := redisbackup.CheckAddr(node.Addr); err != nil {
		return nil, err
	}
	if node.S3 == nil {
		node.S3 = aws.Buckets
	}
	opts.Interceptors = append(opts.Interceptors, &activities.DeniedInterceptor{})
	w := worker.New(c, redisbackup.NodeTaskQueue(cfg.TaskQueue, node.NodeID), opts)
	w.RegisterActivity(node)
	return w, nil
}
