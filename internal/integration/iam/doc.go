// Package iam tests the IAM policies of deploy/iam/ on moto with its IAM
// enforcement on: workers holding only worker-policy.json back up and
// restore a dataset and run an EBS snapshot chain; without any one of its
// statements the step needing it fails at once with one line naming the
// denied action, and no dataset is left paused. The backup writer role
// (trust with an external id, one bucket) and the CLI's policy are checked
// too. docs/emulator.md says what
// moto's enforcement checks and what it cannot.
//
//	go test -count=1 ./internal/integration/iam/
package iam
