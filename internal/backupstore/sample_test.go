package backupstore

import (
	"testing"
)

func TestDecodeExportItemCanonical(t *testing.T) {
	t.Parallel()
	a, err := DecodeExportItem([]byte(`{"Item":{"key":{"S":"k1"},"n":{"N":"12.5"},"tags":{"SS":["b","a"]},"m":{"M":{"z":{"BOOL":true},"y":{"NULL":true}}},"l":{"L":[{"S":"x"},{"B":"AQI="}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	// The same item, attributes and set members in another order.
	b, err := DecodeExportItem([]byte(`{"Item":{"l":{"L":[{"S":"x"},{"B":"AQI="}]},"tags":{"SS":["a","b"]},"m":{"M":{"y":{"NULL":true},"z":{"BOOL":true}}},"n":{"N":"12.5"},"key":{"S":"k1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if CanonicalItem(a) != CanonicalItem(b) {
		t.Errorf("same item, different forms:\n%s\n%s", CanonicalItem(a), CanonicalItem(b))
	}
	for _, other := range []string{
		`{"Item":{"l":{"L":[{"B":"AQI="},{"S":"x"}]},"tags":{"SS":["a","b"]},"m":{"M":{"y":{"NULL":true},"z":{"BOOL":true}}},"n":{"N":"12.5"},"key":{"S":"k1"}}}`, // list order matters
		`{"Item":{"l":{"L":[{"S":"x"},{"B":"AQI="}]},"tags":{"SS":["a","b"]},"m":{"M":{"y":{"NULL":true},"z":{"BOOL":true}}},"n":{"S":"12.5"},"key":{"S":"k1"}}}`, // a type
		`{"Item":{"l":{"L":[{"S":"x"},{"B":"AQI="}]},"tags":{"SS":["a"]},"m":{"M":{"y":{"NULL":true},"z":{"BOOL":true}}},"n":{"N":"12.5"},"key":{"S":"k1"}}}`,     // a member
	} {
		c, err := DecodeExportItem([]byte(other))
		if err != nil {
			t.Fatal(err)
		}
		if CanonicalItem(a) == CanonicalItem(c) {
			t.Errorf("different items, one form: %s", other)
		}
	}
	for _, bad := range []string{`{}`, `{"Item":{"k":{"X":"1"}}}`, `{"Item":{"k":{"S":"1","N":"1"}}}`, `not json`} {
		if _, err := DecodeExportItem([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}
