package client

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// StartVerify starts a DatasetVerify and waits until it has found the
// backup to check. A missing bucket or backup returns an InvalidInputError;
// nothing was read.
func (c *Client) StartVerify(ctx context.Context, in dataset.VerifyInput) (Run, error) {
	if in.EnvID == "" || in.DatasetID == "" || in.BackupLocation == "" {
		return Run{}, &InvalidInputError{Msg: "a verify needs a backup location, an environment id and a dataset id"}
	}
	id := dataset.VerifyWorkflowID(in, c.Now())
	summary := fmt.Sprintf("verify backup of %s/%s under %s", in.EnvID, in.DatasetID, in.BackupLocation)
	if in.BackupID != "" {
		summary = fmt.Sprintf("verify backup %s of %s/%s under %s", in.BackupID, in.EnvID, in.DatasetID, in.BackupLocation)
	}
	return c.start(ctx, id, dataset.VerifyName, summary, in)
}

// WaitVerify waits for a verify to finish, calling onProgress whenever its
// progress changes. A backup that does not match its manifest returns a
// WorkflowFailedError of type BackupCorrupt whose message names the object
// and what differs.
func (c *Client) WaitVerify(ctx context.Context, workflowID string, onProgress func(dataset.Progress)) (*dataset.VerifyResult, error) {
	var res dataset.VerifyResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}
