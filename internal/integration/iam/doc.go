// Package iam tests the IAM policies of deploy/iam/ on moto with its IAM
// enforcement on: workers holding only worker-policy.json back up and
// restore a dataset and run an EBS snapshot chain; without any one of its
// statements the step needing it fails at once with one line naming the
// denied action, and no dataset is left paused. A backup copied to a
// second account (workers on worker-policy.json and
// worker-assume-role-policy.json, the writer role there on
// backup-writer-role-policy.json and the trust policy) completes and
// restores from the copy; a Redis backup completes with the node's sidecar
// on redis-sidecar-policy.json, and so does a Redis restore by that sidecar;
// each of their statements is removed in turn too. Retention prunes with
// the shipped policies at the workers' bucket (BackupBucketDelete) and at
// a copy's (WriterRetention); without either the backup stands with a
// warning naming the denied action. The backup writer role (trust with an external id, one bucket) and
// the CLI's policy are checked as well. docs/emulator.md says what moto's
// enforcement checks and what it cannot.
//
//	go test -count=1 ./internal/integration/iam/
package iam
