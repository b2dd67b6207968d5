package workflows

import (
	"encoding/json"
	"fmt"
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
//	LifeboatDatasets IN ('prod/orders')     (dataset workflows: the env/datasets that fit, see FitKeywords)
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

// searchAttributesBudgetVersion guards the trimming of keyword lists to
// MaxKeywordListBytes: runs started before it upserted the whole list (which
// the server accepted when it was under its own 2 KB limit). It is asked for
// only when a list is trimmed, so runs whose lists fit record no marker.
const searchAttributesBudgetVersion = "search-attributes-budget"

// MaxKeywordListBytes bounds the JSON size of a keyword-list search
// attribute Lifeboat sets. Temporal refuses a value over 2 KB
// (limit.searchAttributesSizeOfValue) and terminates the run at that task;
// the budget stays well under it.
const MaxKeywordListBytes = 1024

// MoreKeyword is the last keyword of a trimmed list: "and-N-more" says N
// values were left out (the full list is in the input and the progress).
func MoreKeyword(n int) string { return fmt.Sprintf("and-%d-more", n) }

// FitKeywords sorts and de-duplicates values and keeps the first ones whose
// JSON list fits in maxBytes together with a final MoreKeyword counting the
// values left out. A list that fits whole is returned whole; trimmed reports
// whether values were left out.
func FitKeywords(values []string, maxBytes int) (kept []string, trimmed bool) {
	all := slices.Compact(slices.Sorted(slices.Values(values)))
	if jsonSize(all) <= maxBytes {
		return all, false
	}
	size := 2 // "[]"
	for i, v := range all {
		// Room for this value and the count of the rest, each with its comma.
		more := MoreKeyword(len(all) - i - 1)
		if size+jsonSize1(v)+1+jsonSize1(more)+1 > maxBytes {
			return append(all[:i:i], MoreKeyword(len(all)-i)), true
		}
		size += jsonSize1(v) + 1
	}
	return all, false // not reached: the whole list did not fit
}

func jsonSize(vs []string) int {
	b, _ := json.Marshal(vs) // strings always marshal
	return len(b)
}

func jsonSize1(v string) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// TagRun sets the run's search attributes. Empty values are left unset;
// keyword lists keep what fits in MaxKeywordListBytes.
func TagRun(ctx workflow.Context, op, env string, datasets, regions []string) {
	if workflow.GetVersion(ctx, searchAttributesVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	updates := []temporal.SearchAttributeUpdate{SAOperation.ValueSet(op)}
	if env != "" {
		updates = append(updates, SAEnvironment.ValueSet(env))
	}
	if len(datasets) > 0 {
		updates = append(updates, SADatasets.ValueSet(fitList(ctx, datasets)))
	}
	if len(regions) > 0 {
		updates = append(updates, SARegions.ValueSet(fitList(ctx, regions)))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("Could not set search attributes", "error", err)
	}
}

// fitList is FitKeywords within the budget, for runs started since it was
// introduced: older runs (whose lists the server had accepted) keep theirs.
func fitList(ctx workflow.Context, values []string) []string {
	kept, trimmed := FitKeywords(values, MaxKeywordListBytes)
	if trimmed && workflow.GetVersion(ctx, searchAttributesBudgetVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return slices.Compact(slices.Sorted(slices.Values(values)))
	}
	return kept
}
