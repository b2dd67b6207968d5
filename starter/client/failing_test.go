package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/mocks"
)

// TestWaitValidatedReportsAFailingTask: a run whose workflow task keeps
// failing (here the deadlock detector) is reported as such, with the
// recorded failure, instead of being waited on until the CLI blames the
// workers.
func TestWaitValidatedReportsAFailingTask(t *testing.T) {
	t.Parallel()
	tc := &mocks.Client{}
	tc.On("QueryWorkflow", mock.Anything, "wf", "", mock.Anything).Return(nil, errors.New("workflow task failing"))
	tc.On("DescribeWorkflowExecution", mock.Anything, "wf", "r1").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING},
		PendingWorkflowTask:   &workflowpb.PendingWorkflowTaskInfo{Attempt: 4},
	}, nil)
	it := &mocks.HistoryEventIterator{}
	it.On("HasNext").Return(true).Twice()
	it.On("HasNext").Return(false)
	it.On("Next").Return(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED}, nil).Once()
	it.On("Next").Return(&historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED,
		Attributes: &historypb.HistoryEvent_WorkflowTaskFailedEventAttributes{WorkflowTaskFailedEventAttributes: &historypb.WorkflowTaskFailedEventAttributes{
			Cause:   enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
			Failure: &failurepb.Failure{Message: "Potential deadlock detected"},
		}},
	}, nil).Once()
	tc.On("GetWorkflowHistory", mock.Anything, "wf", "r1", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT).Return(it)

	err := New(tc, "q").WaitValidated(context.Background(), Run{ID: "wf", RunID: "r1"})
	var failing *TaskFailingError
	if !errors.As(err, &failing) {
		t.Fatalf("got %v, want a TaskFailingError", err)
	}
	if failing.Attempt != 4 || !strings.Contains(err.Error(), "Potential deadlock detected") || !strings.Contains(err.Error(), "keeps failing") {
		t.Fatalf("error %q", err)
	}
}
