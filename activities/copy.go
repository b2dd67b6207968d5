package activities

import (
	"errors"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// CopyError is a failed object copy (backupstore.Copier) as a workflow sees
// it: bad input when the destination's role or bucket refuses, a corrupt
// backup when what arrived is not what was sent, else retried.
func CopyError(dest backupstore.Location, err error) error {
	if e := InvalidAccess(dest, err); e != nil {
		return e
	}
	var mismatch *backupstore.CopyMismatchError
	if errors.As(err, &mismatch) {
		return Corrupt(err)
	}
	return err
}
