package integration

import (
	"context"
	"fmt"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	tclient "go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Temporal's defaults for one workflow execution (server 1.29, which the dev
// server keeps): the history is cut off at 51,200 events or 50 MB
// (limit.historyCount.error, limit.historySize.error; warnings logged from
// 10,240 events and 10 MB), a payload over 2 MB fails the task that carries
// it (limit.blobSize.error; warning from 512 KB), a workflow may have 2,000
// activities pending (limit.numPendingActivities.error), and a workflow
// task's completion is one gRPC message of 4 MB at most.
const (
	serverHistoryEvents     = 51200
	serverHistoryBytes      = 50 << 20
	serverHistoryBytesWarn  = 10 << 20
	serverPayloadBytes      = 2 << 20
	serverPayloadBytesWarn  = 512 << 10
	serverPendingActivities = 2000
	serverMessageBytes      = 4 << 20
)

// historySize is what one workflow execution's history weighs.
type historySize struct {
	Events int
	Bytes  int
	// LargestPayload is the largest single payload (an input, a result).
	LargestPayload int
	// LargestTask is the largest workflow task completion: the events the
	// commands of one task added, in bytes, and how many there were.
	LargestTask, LargestTaskEvents int
	// MostPending is the most activities pending at once.
	MostPending int
	// Children are the child workflows' sizes, by workflow id.
	Children map[string]historySize
}

func (h historySize) String() string {
	return fmt.Sprintf("%d events, %.1f MB, largest payload %.0f KB, largest workflow task %d commands / %.0f KB, %d activities pending at most, %d child workflows",
		h.Events, float64(h.Bytes)/(1<<20), float64(h.LargestPayload)/1024, h.LargestTaskEvents, float64(h.LargestTask)/1024, h.MostPending, len(h.Children))
}

// measureHistory reads a closed workflow's history, and its children's.
func measureHistory(ctx context.Context, t *testing.T, c tclient.Client, workflowID, runID string) historySize {
	t.Helper()
	h := historySize{Children: map[string]historySize{}}
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	task, taskEvents, pending := 0, 0, 0
	inTask := false
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		size := proto.Size(ev)
		h.Events++
		h.Bytes += size
		h.LargestPayload = max(h.LargestPayload, largestPayload(ev.ProtoReflect()))
		// The events a task's commands add follow its WorkflowTaskCompleted
		// and carry its event id.
		switch {
		case ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			inTask, task, taskEvents = true, size, 0
		case inTask && commandEvent(ev.ProtoReflect()):
			task += size
			taskEvents++
		default:
			inTask = false
		}
		if task > h.LargestTask {
			h.LargestTask = task
		}
		h.LargestTaskEvents = max(h.LargestTaskEvents, taskEvents)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			pending++
			h.MostPending = max(h.MostPending, pending)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
			pending--
		}
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			we := a.GetWorkflowExecution()
			h.Children[we.GetWorkflowId()] = measureHistory(ctx, t, c, we.GetWorkflowId(), we.GetRunId())
		}
	}
	return h
}

// commandEvent says whether an event was added by a workflow task's command:
// its attributes name the WorkflowTaskCompleted event.
func commandEvent(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() != nil && fd.Cardinality() != protoreflect.Repeated {
			if f := fd.Message().Fields().ByName("workflow_task_completed_event_id"); f != nil && v.Message().Get(f).Int() > 0 {
				found = true
			}
		}
		return !found
	})
	return found
}

// largestPayload is the size of the largest Payload anywhere in m.
func largestPayload(m protoreflect.Message) int {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		return proto.Size(p)
	}
	largest := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					largest = max(largest, largestPayload(mv.Message()))
					return true
				})
			}
		case fd.Message() == nil:
		case fd.IsList():
			for i := range v.List().Len() {
				largest = max(largest, largestPayload(v.List().Get(i).Message()))
			}
		default:
			largest = max(largest, largestPayload(v.Message()))
		}
		return true
	})
	return largest
}

// requireWellInsideLimits fails the test unless a history and each of its
// children stay well inside the server's limits: under half of those that
// end a run (events, pending activities), under the warning thresholds of
// sizes (history, payload), under a quarter of a gRPC message per task.
func requireWellInsideLimits(t *testing.T, what string, h historySize) {
	t.Helper()
	for name, c := range h.Children {
		requireWellInsideLimits(t, what+" child "+name, c)
	}
	for _, l := range []struct {
		name      string
		got, most int
	}{
		{"history events", h.Events, serverHistoryEvents / 2},
		{"activities pending at once", h.MostPending, serverPendingActivities / 2},
		{"history bytes", h.Bytes, serverHistoryBytesWarn},
		{"largest payload bytes", h.LargestPayload, serverPayloadBytesWarn},
		{"largest workflow task bytes", h.LargestTask, serverMessageBytes / 4},
	} {
		if l.got > l.most {
			t.Errorf("%s: %s = %d, over %d", what, l.name, l.got, l.most)
		}
	}
}
