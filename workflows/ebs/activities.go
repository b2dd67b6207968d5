package ebs

import (
	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
)

// The activities, as nil receivers: workflows name an activity by its
// method (ebs.CreateInstanceSnapshots), the worker registers the real
// structs.
var (
	ebs    *ebsact.EBS
	checks *activities.Checks // restore tests' check commands
)
