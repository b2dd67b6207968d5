// Package workflows holds what Lifeboat's workflows share: the progress
// query and the step names common to every domain, search attributes and
// metrics. The workflows themselves live one package per domain: dataset
// (DynamoDB datasets), redis (Redis clusters), ebs (EBS snapshots).
package workflows

// ProgressQuery returns a workflow's progress while it runs and after.
const ProgressQuery = "progress"

// Steps common to every domain's workflows.
const (
	StepValidating = "validating"
	StepManifest   = "writing-manifest"
	StepDone       = "done"
	StepFailed     = "failed"
)
