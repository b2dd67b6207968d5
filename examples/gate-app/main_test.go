package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lifeboat-dev/lifeboat/gate"
)

// These tests write to a real DynamoDB endpoint holding a Lifeboat control
// table. Lifeboat's gate/outside_module_test.go prepares one on the AWS
// emulator and runs them with GATE_APP_ENV set: an environment with a RUNNING
// dataset GATE_APP_DATASET and a dataset GATE_APP_PAUSED_DATASET paused by
// workflow GATE_APP_HOLDER. Without GATE_APP_ENV they are skipped.
type target struct {
	env, open, paused, holder string
}

func setup(t *testing.T) (context.Context, target) {
	t.Helper()
	tg := target{
		env: os.Getenv("GATE_APP_ENV"), open: os.Getenv("GATE_APP_DATASET"),
		paused: os.Getenv("GATE_APP_PAUSED_DATASET"), holder: os.Getenv("GATE_APP_HOLDER"),
	}
	if tg.env == "" {
		t.Skip("GATE_APP_ENV is not set: run by Lifeboat's gate/outside_module_test.go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx, tg
}

func runApp(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAppWritesAndDeletes(t *testing.T) {
	ctx, tg := setup(t)
	for _, args := range [][]string{
		{"-env", tg.env, "-dataset", tg.open, "a=1", "b=2", "c=3"}, // BatchPut
		{"-env", tg.env, "-dataset", tg.open, "-delete", "b"},
		{"-env", tg.env, "-dataset", tg.open, "kept=yes"}, // Put
	} {
		if code, out, errs := runApp(t, ctx, args...); code != 0 {
			t.Fatalf("gate-app %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(dynamodb.NewFromConfig(cfg), gate.Options{
		ControlTable: os.Getenv("LIFEBOAT_CONTROL_TABLE"), TablePrefix: os.Getenv("LIFEBOAT_TABLE_PREFIX"),
	})
	want := map[string]string{"a": "1", "b": "", "c": "3", "kept": "yes"}
	for key, value := range want {
		it, ok, err := g.Get(ctx, tg.env, tg.open, key)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (value != "") || it.Value != value {
			t.Errorf("%s = %q (found %v), want %q", key, it.Value, ok, value)
		}
	}
}

func TestAppIsRefusedWhilePaused(t *testing.T) {
	ctx, tg := setup(t)
	for _, args := range [][]string{
		{"-env", tg.env, "-dataset", tg.paused, "x=1", "y=2"},
		{"-env", tg.env, "-dataset", tg.paused, "x=1"},
		{"-env", tg.env, "-dataset", tg.paused, "-delete", "x"},
	} {
		code, _, errs := runApp(t, ctx, args...)
		if code != exitPaused || !strings.Contains(errs, tg.holder) {
			t.Errorf("gate-app %s: exit %d, %q; want %d naming workflow %s", strings.Join(args, " "), code, errs, exitPaused, tg.holder)
		}
	}

	// The same through the API: the refusal is typed and names the holder.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(dynamodb.NewFromConfig(cfg), gate.Options{
		ControlTable: os.Getenv("LIFEBOAT_CONTROL_TABLE"), TablePrefix: os.Getenv("LIFEBOAT_TABLE_PREFIX"),
	})
	err = g.BatchPut(ctx, tg.env, tg.paused, []gate.Item{{Key: "z", Value: "1"}})
	var paused *gate.WritesPausedError
	if !errors.Is(err, gate.ErrWritesPaused) || !errors.As(err, &paused) {
		t.Fatalf("write while paused: %v, want a *gate.WritesPausedError", err)
	}
	if paused.Env != tg.env || paused.Dataset != tg.paused || paused.HeldBy != tg.holder {
		t.Errorf("refusal names %s/%s held by %q, want %s/%s held by %q",
			paused.Env, paused.Dataset, paused.HeldBy, tg.env, tg.paused, tg.holder)
	}
	if _, _, err := g.Get(ctx, tg.env, "no-such-dataset", "k"); !errors.Is(err, gate.ErrNotFound) {
		t.Errorf("get from a missing dataset: %v, want ErrNotFound", err)
	}
}
