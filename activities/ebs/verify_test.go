package ebs

import (
	"context"
	"slices"
	"testing"
)

// TestVerifyDestinations: Copy_Dest's destinations as verify reads them.
// account:region naming the worker's own account is a region of its own;
// another account is read through the copy role, or, without one, listed
// apart so the verdict says so.
func TestVerifyDestinations(t *testing.T) {
	t.Parallel()
	const tag = "us-west-2, 123456789012:eu-west-1,222233334444:eu-west-2,nowhere"
	own := func(context.Context) (string, error) { return "123456789012", nil }
	for _, tc := range []struct {
		name          string
		copyRole      bool
		dests, noRole []string
	}{
		{"no copy role", false, []string{"us-west-2", "eu-west-1"}, []string{"222233334444:eu-west-2"}},
		{"copy role", true, []string{"us-west-2", "eu-west-1", "222233334444:eu-west-2"}, nil},
	} {
		a := &EBS{Account: own}
		if tc.copyRole {
			a.EC2In = func(string, string) (EC2API, error) { return nil, nil }
		}
		dests, noRole, err := a.verifyDestinations(context.Background(), tag, "us-east-1")
		if err != nil || !slices.Equal(dests, tc.dests) || !slices.Equal(noRole, tc.noRole) {
			t.Errorf("%s: %q, %q, %v; want %q, %q", tc.name, dests, noRole, err, tc.dests, tc.noRole)
		}
	}
}
