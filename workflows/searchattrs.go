package workflows

import (
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Custom search attributes every Lifeboat workflow sets on itself, so runs
// can be found in the Web UI and with `temporal workflow list --query`,
// whoever started them (the lifeboat CLI, the Go client, a Schedule or
// `temporal workflow start`):
//
//	LifeboatOperation = 'backup' | 'restore' | 'verify' | 'redis-backup' | 'redis-restore' | 'snapshots-run' | ...
//	LifeboatEnvironment = 'prod'            (dataset workflows: the first dataset's environment)
//	LifeboatDatasets IN ('prod/orders')     (dataset workflows: every env/dataset)
//	LifeboatRegions IN ('us-east-1')        (snapshot workflows)
//	LifeboatScheduleId = 'nightly'          (set by `lifeboat schedule create` on the runs it starts)
var (
	SAOperation   = temporal.NewSearchAttributeKeyKeyword("LifeboatOperation")
	SAEnvironment = temporal.NewSearchAttributeKeyKeyword("LifeboatEnvironment")
	SADatasets    = temporal.NewSearchAttributeKeyKeywordList("LifeboatDatasets")
	SARegions     = temporal.NewSearchAttributeKeyKeywordList("LifeboatRegions")
	SAScheduleID  = temporal.NewSearchAttributeKeyKeyword("LifeboatScheduleId")
)

// SearchAttributes lists Lifeboat's custom search attributes and their
// types, for registration on a namespace (the worker does it at start-up;
// `make up` passes them to the dev server).
var SearchAttributes = map[string]enumspb.IndexedValueType{
	SAOperation.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAEnvironment.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SADatasets.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	SARegions.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	SAScheduleID.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// searchAttributesVersion guards the upsert below: histories recorded
// before workflows tagged themselves replay without it.
const searchAttributesVersion = "search-attributes"

// TagRun sets the run's search attributes. Empty values are left unset.
func TagRun(ctx workflow.Context, op, env string, datasets, regions []string) {
	if workflow.GetVersion(ctx, searchAttributesVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	updates := []temporal.SearchAttributeUpdate{SAOperation.ValueSet(op)}
	if env != "" {
		updates = append(updates, SAEnvironment.ValueSet(env))
	}
	if len(datasets) > 0 {
		updates = append(updates, SADatasets.ValueSet(slices.Compact(slices.Sorted(slices.Values(datasets)))))
	}
	if len(regions) > 0 {
		updates = append(updates, SARegions.ValueSet(slices.Compact(slices.Sorted(slices.Values(regions)))))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("Could not set search attributes", "error", err)
	}
}
