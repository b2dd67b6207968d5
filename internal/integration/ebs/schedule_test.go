package ebs

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// TestIntegrationSnapshotsSchedule creates a snapshots schedule for one
// region, triggers it and checks the run it started snapshotted the
// region's Backup=Yes instance, is tagged with the schedule and region,
// and counted in the workers' metrics, its success and target served;
// then deletes the schedule.
func TestIntegrationSnapshotsSchedule(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 5*time.Minute)
	const region = "ap-south-1"
	base := e.Snapshots(t, region) // moto's own AMI snapshots
	inst := e.RunInstance(t, region, region+"a", map[string]string{"Backup": "Yes", "Name": "sched-1"}, "/dev/sdf")
	lb := e.Client()
	id := "ebs-" + e.ID("nightly")
	if err := lb.CreateSnapshotsSchedule(ctx, client.Schedule{ID: id, Cron: "30 3 * * *"}, ebs.RunInput{Regions: []string{region}}); err != nil {
		t.Fatalf("create schedule: %v", err)
	}
	t.Cleanup(func() { _ = lb.DeleteSchedule(context.Background(), id) })
	if err := lb.TriggerSchedule(ctx, id); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var st *client.ScheduleStatus
	for st == nil || len(st.Recent) == 0 {
		var err error
		if st, err = lb.DescribeSchedule(ctx, id); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the triggered schedule started no run: %+v", st)
		case <-time.After(200 * time.Millisecond):
		}
	}
	wfID := st.Recent[0].WorkflowID
	res, err := lb.WaitSnapshotRun(ctx, wfID, nil)
	if err != nil {
		t.Fatalf("scheduled snapshot run %s: %v", wfID, err)
	}
	if len(res.Regions) != 1 || res.Regions[0].Chain == nil || res.Regions[0].Chain.Create == nil ||
		res.Regions[0].Chain.Create.GroupsCreated != 1 {
		t.Fatalf("scheduled run result %+v, want one region with one group created", res)
	}
	var ours []testenv.Snapshot
	for sid, s := range e.Snapshots(t, region) {
		if _, ok := base[sid]; !ok {
			ours = append(ours, s)
		}
	}
	devices := e.InstanceDevices(t, region, inst)
	if len(ours) != len(devices) {
		t.Errorf("%d snapshots in %s after the scheduled run, want one per volume of %s (%d)", len(ours), region, inst, len(devices))
	}
	for _, s := range ours {
		if s.Tags["lifeboat:source-instance-id"] != inst || s.Tags["Type"] != "Automated" {
			t.Errorf("snapshot %s tags %v, want Type=Automated of instance %s", s.ID, s.Tags, inst)
		}
	}
	label := `region="` + region + `"`
	if n := e.WaitMetric(t, "lifeboat_snapshots_created_total", label, float64(len(ours))); n != float64(len(ours)) {
		t.Errorf("lifeboat_snapshots_created_total{%s} = %v, want %d", label, n, len(ours))
	}
	// The schedule gave its run the timetable's interval as the region's
	// target; the run served it with its success.
	resource := `operation="snapshots",resource="` + region + `"`
	if n := e.WaitMetric(t, "lifeboat_rpo_target_seconds", resource, 24*3600); n != 24*3600 {
		t.Errorf("lifeboat_rpo_target_seconds{%s} = %v, want 86400 (the nightly schedule's interval)", resource, n)
	}
	if at := e.Metric(t, "lifeboat_last_success_timestamp_seconds", resource); at < float64(st.Recent[0].StartedAt.Unix()) {
		t.Errorf("lifeboat_last_success_timestamp_seconds{%s} = %v, want the run's end (started %s)", resource, at, st.Recent[0].StartedAt)
	}

	d, err := e.Temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	fields := d.WorkflowExecutionInfo.GetSearchAttributes().GetIndexedFields()
	var op, sched string
	var regions []string
	dc := converter.GetDefaultDataConverter()
	_ = dc.FromPayload(fields[workflows.SAOperation.GetName()], &op)
	_ = dc.FromPayload(fields[workflows.SAScheduleID.GetName()], &sched)
	_ = dc.FromPayload(fields[workflows.SARegions.GetName()], &regions)
	if op != "snapshots-run" || sched != id || !slices.Equal(regions, []string{region}) {
		t.Errorf("search attributes of %s: operation %q, schedule %q, regions %v; want snapshots-run, %s, [%s]", wfID, op, sched, regions, id, region)
	}

	if err := lb.DeleteSchedule(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Schedules are listed from visibility, which catches up with a delete
	// a moment later.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		list, err := lb.ListSchedules(ctx)
		if err == nil && !slices.ContainsFunc(list, func(s client.ScheduleSummary) bool { return s.ID == id }) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("schedules 30 s after delete: %+v, %v; want %s gone", list, err, id)
			break
		}
	}
}
