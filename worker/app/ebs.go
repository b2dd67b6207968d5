package app

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// registerSnapshotWorkflows registers the EBS snapshot lifecycle's workflows.
func registerSnapshotWorkflows(r worker.WorkflowRegistry) {
	for name, fn := range map[string]any{
		ebs.RunName:             ebs.Run,
		ebs.ChainName:           ebs.Chain,
		ebs.CreateName:          ebs.Create,
		ebs.CreateBatchName:     ebs.CreateBatch,
		ebs.CopyName:            ebs.Copy,
		ebs.CopyDestinationName: ebs.CopyDestination,
		ebs.ExpireName:          ebs.Expire,
		ebs.RestoreName:         ebs.Restore,
		ebs.VerifyName:          ebs.Verify,
		ebs.RestoreTestName:     ebs.RestoreTest,
	} {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}

// NewEBS builds the EBS activities on the configuration's AWS clients: one
// EC2 client per region, built on first use.
func NewEBS(cfg config.Config, aws *awsx.Clients) *ebsact.EBS {
	a := &ebsact.EBS{
		EC2:          func(region string) ebsact.EC2API { return aws.EC2(region) },
		Now:          time.Now,
		PollInterval: cfg.PollInterval,
	}
	if cfg.EBSCopyRole != "" {
		a.EC2In = func(account, region string) (ebsact.EC2API, error) {
			role := awsx.Role{ARN: cfg.EBSCopyRoleFor(account), ExternalID: cfg.EBSCopyExternalID}
			if err := role.Validate(); err != nil {
				return nil, fmt.Errorf("--ebs-copy-role: %w", err)
			}
			if role.Account() != account {
				return nil, fmt.Errorf("--ebs-copy-role %s names account %s, not the destination's %s", cfg.EBSCopyRole, role.Account(), account)
			}
			return aws.EC2As(role, region), nil
		}
		a.CopyRoleARN = cfg.EBSCopyRoleFor
		a.KMS = func(region string) ebsact.KMSAPI { return aws.KMS(region) }
	}
	a.Account = aws.Account
	return a
}
