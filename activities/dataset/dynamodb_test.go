package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// DynamoDB completes an import that met bad lines and counts them in
// ErrorCount: a restore must not switch to a table missing items.
func TestCheckImportedTrustsDynamoDBsCounts(t *testing.T) {
	t.Parallel()
	in := WaitImportInput{TableName: "t", ExpectedItems: 100}
	cases := []struct {
		name string
		d    types.ImportTableDescription
		want string // "" = accepted
	}{
		{"complete", types.ImportTableDescription{ImportedItemCount: 100, ProcessedItemCount: 100}, ""},
		{"errors", types.ImportTableDescription{ImportedItemCount: 99, ProcessedItemCount: 100, ErrorCount: 1}, "1 of 100 items could not be imported"},
		{"errors but count right", types.ImportTableDescription{ImportedItemCount: 100, ProcessedItemCount: 101, ErrorCount: 1}, "could not be imported"},
		{"short", types.ImportTableDescription{ImportedItemCount: 98, ProcessedItemCount: 98}, "holds 98 items, the backup's manifest says 100"},
	}
	for _, c := range cases {
		err := checkImported(in, &c.d)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrImportFailed || !app.NonRetryable() || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a non-retryable %s saying %q", c.name, err, activities.ErrImportFailed, c.want)
		}
	}
}
