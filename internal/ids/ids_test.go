package ids

import (
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id string
		ok bool
	}{
		{"7c80cad5c403", true},
		{"prod-eu_1", true},
		{"20210901T120000Z", true},
		{"", false},
		{"-leading", false},
		{"has.dot", false},
		{"has space", false},
		{"a234567890123456789012345678901234567890123456789012345678901234", false},
	}
	for _, c := range cases {
		err := Validate("dataset", c.id)
		if (err == nil) != c.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
	}
}

func TestTimestampID(t *testing.T) {
	t.Parallel()
	got := TimestampID(time.Date(2021, 9, 1, 14, 0, 0, 0, time.FixedZone("x", 2*3600)))
	if got != "20210901T120000Z" {
		t.Fatalf("TimestampID = %s", got)
	}
}
