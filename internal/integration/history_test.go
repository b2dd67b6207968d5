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

// Temporal's defaults for one workflow execution (the dev server keeps them):
// the history is cut off at 51,200 events or 50 MB, and a payload over 2 MB
// fails the task that carries it (limit.historyCount.error,
// limit.historySize.error, limit.blobSize.error in the server's dynamic
// config). A workflow task's completion is one gRPC message, 4 MB at most.
const (
	serverHistoryEvents = 51200
	serverHistoryBytes  = 50 << 20
	serverPayloadBytes  = 2 << 20
	serverMessageBytes  = 4 << 20
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
	// Children are the child workflows' sizes, by workflow id.
	Children map[string]historySize
}

func (h historySize) String() string {
	return fmt.Sprintf("%d events, %.1f MB, largest payload %.0f KB, largest workflow task %d commands / %.0f KB, %d child workflows",
		h.Events, float64(h.Bytes)/(1<<20), float64(h.LargestPayload)/1024, h.LargestTaskEvents, float64(h.LargestTask)/1024, len(h.Children))
}

// measureHistory reads a closed workflow's history, and its children's.
func measureHistory(ctx context.Context, t *testing.T, c tclient.Client, workflowID, runID string) historySize {
	t.Helper()
	h := historySize{Children: map[string]historySize{}}
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	task, taskEvents := 0, 0
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
// children stay under a quarter of the server's limits.
func requireWellInsideLimits(t *testing.T, what string, h historySize) {
	t.Helper()
	for name, c := range h.Children {
		requireWellInsideLimits(t, what+" child "+name, c)
	}
	for _, l := range []struct {
		name      string
		got, limt int
	}{
		{"history events", h.Events, serverHistoryEvents},
		{"history bytes", h.Bytes, serverHistoryBytes},
		{"largest payload bytes", h.LargestPayload, serverPayloadBytes},
		{"largest workflow task bytes", h.LargestTask, serverMessageBytes},
	} {
		if l.got > l.limt/4 {
			t.Errorf("%s: %s = %d, over a quarter of the server's limit %d", what, l.name, l.got, l.limt)
		}
	}
}
