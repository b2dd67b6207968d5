package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// EnsureSearchAttributes registers Lifeboat's custom search attributes on
// the namespace when any is missing, and waits until the server lists
// them. It is idempotent: workers call it at every start-up. Where the
// worker may not register them (Temporal Cloud, a restricted operator API),
// the error says which to register by hand.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	// A namespace created a moment ago (docker-compose's setup) can be
	// "not found" for a few seconds: retry the first look briefly.
	var missing map[string]enumspb.IndexedValueType
	var err error
	for start := time.Now(); ; {
		missing, err = missingSearchAttributes(ctx, c, namespace)
		var nsNotFound *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &nsNotFound) || time.Since(start) > 30*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if err != nil || len(missing) == 0 {
		return err
	}
	req := &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, req); err != nil {
		var exists *serviceerror.AlreadyExists
		if !errors.As(err, &exists) {
			return fmt.Errorf("register search attributes %v on namespace %s (register them yourself, see README \"Search attributes\"): %w",
				slices.Sorted(maps.Keys(missing)), namespace, err)
		}
	}
	// The server's search attribute cache can take a moment to see them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing, err := missingSearchAttributes(ctx, c, namespace)
		if err != nil || len(missing) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("search attributes %v still missing on namespace %s after registering them", slices.Sorted(maps.Keys(missing)), namespace)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// CheckSearchAttributes fails when any of Lifeboat's search attributes is
// missing on the namespace: workflows could not tag themselves.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	missing, err := missingSearchAttributes(ctx, c, namespace)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("search attributes %v are missing on namespace %s: register them (see README \"Search attributes\") or start the worker with --register-search-attributes",
			slices.Sorted(maps.Keys(missing)), namespace)
	}
	return nil
}

func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) (map[string]enumspb.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes {
		have, ok := resp.CustomAttributes[name]
		if !ok {
			missing[name] = typ
			continue
		}
		if have != typ {
			return nil, fmt.Errorf("search attribute %s on namespace %s has type %s, Lifeboat needs %s", name, namespace, have, typ)
		}
	}
	return missing, nil
}
