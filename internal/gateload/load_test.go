package gateload

import "testing"

func TestItemKeysSortInLoadOrder(t *testing.T) {
	t.Parallel()
	if ItemKey("item", 9) >= ItemKey("item", 10) || ItemKey("item", 1) != "item-000001" {
		t.Fatal("generated keys do not sort in order")
	}
}
