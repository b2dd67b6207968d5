package ebstags

import "testing"

// Only snapshots tagged Managed-By=Lifeboat carry group lineage; a tag
// with another value or case (another tool's) does not make them Lifeboat's.
func TestIsManagedOnlyByLifeboatsTag(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tags map[string]string
		want bool
	}{
		{map[string]string{ManagedBy: ManagedByLifeboat}, true},
		{map[string]string{ManagedBy: "lifeboat"}, false},
		{map[string]string{ManagedBy: "Other"}, false},
		{map[string]string{"Name": ManagedByLifeboat}, false},
		{nil, false},
	} {
		if got := IsManaged(c.tags); got != c.want {
			t.Errorf("IsManaged(%v) = %v, want %v", c.tags, got, c.want)
		}
	}
}
