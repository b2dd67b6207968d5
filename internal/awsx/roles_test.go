package awsx

import (
	"context"
	"testing"
)

func TestRoleValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		role Role
		ok   bool
	}{
		{Role{}, true},
		{Role{ARN: "arn:aws:iam::222233334444:role/lifeboat-backup-writer"}, true},
		{Role{ARN: "arn:aws:iam::222233334444:role/team/lifeboat", ExternalID: "lifeboat-prod"}, true},
		{Role{ARN: "arn:aws-cn:iam::222233334444:role/x"}, true},
		{Role{ExternalID: "lifeboat-prod"}, false},                              // an external id alone
		{Role{ARN: "arn:aws:iam::12:role/x"}, false},                            // short account
		{Role{ARN: "arn:aws:iam::222233334444:user/x"}, false},                  // a user
		{Role{ARN: "arn:aws:s3:::bucket"}, false},                               // not IAM
		{Role{ARN: "arn:aws:iam:us-east-1:222233334444:role/x"}, false},         // IAM has no region
		{Role{ARN: "lifeboat-backup-writer"}, false},                            // a bare name
		{Role{ARN: "arn:aws:iam::222233334444:role/x", ExternalID: "a"}, false}, // too short
		{Role{ARN: "arn:aws:iam::222233334444:role/x", ExternalID: "has space"}, false},
	}
	for _, c := range cases {
		if err := c.role.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", c.role, err, c.ok)
		}
	}
	if got := (Role{ARN: "arn:aws:iam::222233334444:role/x"}).Account(); got != "222233334444" {
		t.Errorf("Account() = %q", got)
	}
}

func TestWithRole(t *testing.T) {
	t.Parallel()
	r := Role{ARN: "arn:aws:iam::222233334444:role/x", ExternalID: "e1"}
	if got := RoleFrom(WithRole(context.Background(), r)); got != r {
		t.Errorf("RoleFrom(WithRole(r)) = %+v", got)
	}
	if got := RoleFrom(context.Background()); !got.IsZero() {
		t.Errorf("RoleFrom(background) = %+v, want the zero Role", got)
	}
}
