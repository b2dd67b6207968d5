// Package config holds Lifeboat's runtime settings, read from the environment
// and overridable by flags.
package config

import (
	"os"
	"strings"
	"time"
)

// Defaults for every setting. The AWS region and endpoint are not here: they
// come from the AWS SDK's own environment (AWS_REGION, AWS_ENDPOINT_URL, ...).
const (
	DefaultTemporalAddress = "localhost:7233"
	DefaultNamespace       = "default"
	DefaultTaskQueue       = "lifeboat"
	DefaultControlTable    = "lifeboat-control"
	DefaultTablePrefix     = "lifeboat"
)

// Config is what the worker and the CLI need to reach Temporal and the
// control table.
type Config struct {
	TemporalAddress string
	Namespace       string
	TaskQueue       string
	// ControlTable is the DynamoDB table holding environments and datasets.
	ControlTable string
	// TablePrefix starts the name of every dataset table Lifeboat creates.
	TablePrefix string
	// PollInterval is how often long-running AWS jobs (exports, imports) are polled.
	PollInterval time.Duration
	// AllowCheckCommands lets restore tests run their user-supplied check
	// commands on this worker. Off by default: whoever may start workflows
	// on the task queue could otherwise run commands on the workers.
	AllowCheckCommands bool
	// EBSCopyRole is the role EBS copies into another account (Copy_Dest
	// account:region) are made with: an IAM role ARN in which {account}
	// stands for the destination account. Empty: such copies are reported,
	// not made.
	EBSCopyRole string
	// EBSCopyExternalID is the external id EBSCopyRole is assumed with, if
	// its trust policy asks for one.
	EBSCopyExternalID string
}

// FromEnv reads the configuration from the environment, falling back to the defaults.
func FromEnv() Config {
	return Config{
		TemporalAddress: env("TEMPORAL_ADDRESS", DefaultTemporalAddress),
		Namespace:       env("TEMPORAL_NAMESPACE", DefaultNamespace),
		TaskQueue:       env("LIFEBOAT_TASK_QUEUE", DefaultTaskQueue),
		ControlTable:    env("LIFEBOAT_CONTROL_TABLE", DefaultControlTable),
		TablePrefix:     env("LIFEBOAT_TABLE_PREFIX", DefaultTablePrefix),
		PollInterval:    durationEnv("LIFEBOAT_POLL_INTERVAL", 5*time.Second),
		// Only an explicit yes: a typo leaves commands refused.
		AllowCheckCommands: os.Getenv("LIFEBOAT_ALLOW_CHECK_COMMANDS") == "true",
		EBSCopyRole:        os.Getenv("LIFEBOAT_EBS_COPY_ROLE"),
		EBSCopyExternalID:  os.Getenv("LIFEBOAT_EBS_COPY_EXTERNAL_ID"),
	}
}

// EBSCopyRoleFor is the role to assume for EBS copies into account.
func (c Config) EBSCopyRoleFor(account string) string {
	return strings.ReplaceAll(c.EBSCopyRole, "{account}", account)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func durationEnv(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}
