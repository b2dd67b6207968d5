// Command starter is the lifeboat CLI (built as bin/lifeboat): it creates
// environments and datasets, writes through the write gate, and starts and
// watches backup and restore workflows.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
