// Package ids validates the identifiers users give Lifeboat and derives the
// names built from them.
package ids

import (
	"fmt"
	"regexp"
	"time"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// InvalidIDError says an identifier cannot be used.
type InvalidIDError struct {
	Kind, ID string
}

func (e *InvalidIDError) Error() string {
	return fmt.Sprintf("invalid %s id %q: use 1-63 letters, digits, '-' or '_', starting with a letter or digit", e.Kind, e.ID)
}

// Validate checks an environment, dataset or store id. Dots are not allowed,
// so table names built from ids with dots as separators stay unambiguous.
func Validate(kind, id string) error {
	if !idPattern.MatchString(id) {
		return &InvalidIDError{Kind: kind, ID: id}
	}
	return nil
}

// TableName is the DynamoDB table that holds a dataset's items in one store.
func TableName(prefix, env, store, dataset string) string {
	return fmt.Sprintf("%s.%s.%s.%s", prefix, env, store, dataset)
}

// TimestampID is the compact UTC time form used for store and backup ids,
// e.g. 20210901T120000Z.
func TimestampID(t time.Time) string {
	return t.UTC().Format("20060102T150405Z")
}

// BackupID names a backup after its cut time, to the millisecond, so that ids
// sort in time order, e.g. 20210901T120000.000Z.
func BackupID(cut time.Time) string {
	return cut.UTC().Format("20060102T150405.000Z")
}
