package client_test

import (
	"context"
	"fmt"
	"log"

	tclient "go.temporal.io/sdk/client"

	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// Back up a dataset from Go code and wait for it, printing progress.
// (Compiled by `go test`; run it against `make up`.)
func Example() {
	ctx := context.Background()
	tc, err := tclient.Dial(tclient.Options{HostPort: "localhost:7233"})
	if err != nil {
		log.Fatal(err)
	}
	defer tc.Close()
	lb := client.New(tc, "lifeboat")

	run, err := lb.StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: "demo", DatasetID: "orders", BackupLocation: "s3://my-backup-bucket/nightly",
	}}})
	if err != nil {
		log.Fatal(err) // a *client.InvalidInputError means nothing was paused
	}
	res, err := lb.WaitBackup(ctx, run.ID, func(p dataset.Progress) { fmt.Println(p.Summary()) })
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range res.Datasets {
		fmt.Println(d.DatasetID, d.ItemCount, d.ManifestURL)
	}

	// Restore the latest backup into a new store and switch to it.
	run, err = lb.StartRestore(ctx, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{
		EnvID: "demo", DatasetID: "orders", BackupLocation: "s3://my-backup-bucket/nightly",
	}}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := lb.WaitRestore(ctx, run.ID, nil); err != nil {
		log.Fatal(err)
	}

	// Recent backups, newest first.
	runs, err := lb.List(ctx, dataset.BackupName, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range runs {
		fmt.Println(r.WorkflowID, r.Status)
	}
}
