package ebs

import ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"

// The activities, as a nil receiver: workflows name an activity by its
// method (ebs.CreateInstanceSnapshots), the worker registers the real struct.
var ebs *ebsact.EBS
