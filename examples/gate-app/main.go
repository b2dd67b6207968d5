// Command gate-app is the smallest application that writes to a Lifeboat
// dataset through the write gate, built as a module of its own, as any
// application is: it imports github.com/lifeboat-dev/lifeboat/gate.
//
//	gate-app -env prod -dataset orders order-1=paid order-2=open
//	gate-app -env prod -dataset orders -delete order-1
//
// It writes its key=value arguments in one atomic batch, or deletes the key
// given, and exits 3 while a Lifeboat backup or restore holds the dataset:
// nothing was written, so the caller retries later. The AWS SDK reads the
// region, credentials and AWS_ENDPOINT_URL from the environment; the tables
// come from LIFEBOAT_CONTROL_TABLE and LIFEBOAT_TABLE_PREFIX, as the Lifeboat
// workers read them (empty: the same defaults).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lifeboat-dev/lifeboat/gate"
)

// Exit codes.
const (
	exitFailed = 1
	exitUsage  = 2
	exitPaused = 3
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gate-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.String("env", "", "environment id")
	dataset := fs.String("dataset", "", "dataset id")
	del := fs.Bool("delete", false, "delete the key given instead of writing key=value pairs")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *env == "" || *dataset == "" || fs.NArg() == 0 || *del && fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: gate-app -env E -dataset D key=value... | -delete key")
		return exitUsage
	}
	var items []gate.Item
	if !*del {
		for _, arg := range fs.Args() {
			k, v, ok := strings.Cut(arg, "=")
			if !ok {
				fmt.Fprintf(stderr, "gate-app: %q is not key=value\n", arg)
				return exitUsage
			}
			items = append(items, gate.Item{Key: k, Value: v})
		}
	}

	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "gate-app: load AWS configuration: %v\n", err)
		return exitFailed
	}
	g := gate.New(dynamodb.NewFromConfig(cfg), gate.Options{
		ControlTable: os.Getenv("LIFEBOAT_CONTROL_TABLE"),
		TablePrefix:  os.Getenv("LIFEBOAT_TABLE_PREFIX"),
	})

	verb := "wrote"
	switch {
	case *del:
		verb = "deleted"
		err = g.Delete(ctx, *env, *dataset, fs.Arg(0))
	case len(items) == 1:
		err = g.Put(ctx, *env, *dataset, items[0])
	default:
		err = g.BatchPut(ctx, *env, *dataset, items)
	}

	var paused *gate.WritesPausedError
	switch {
	case errors.As(err, &paused):
		fmt.Fprintf(stderr, "gate-app: %s/%s is %s, held by workflow %s: nothing written, retry later\n",
			paused.Env, paused.Dataset, paused.Status, paused.HeldBy)
		return exitPaused
	case err != nil:
		fmt.Fprintf(stderr, "gate-app: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s %d keys in %s/%s\n", verb, fs.NArg(), *env, *dataset)
	return 0
}
