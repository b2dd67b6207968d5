package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// StoreDeleted is a store whose tables `lifeboat store delete` removed; its
// record stays, so the environment's history still names it.
const StoreDeleted = "DELETED"

// StoreTableDeleting is the state shown for a table whose deletion was
// recorded but that DynamoDB still lists (being deleted, or a deletion to
// finish by running the delete again).
const StoreTableDeleting = "DELETING"

// StoreTable is one dataset table Lifeboat created in one store of an
// environment, with DynamoDB's own figures for it (DescribeTable: no scan;
// DynamoDB refreshes ItemCount and SizeBytes about every six hours).
type StoreTable struct {
	EnvID     string `json:"envId"`
	StoreID   string `json:"storeId"`
	DatasetID string `json:"datasetId"`
	Table     string `json:"table"`
	// State is the store's status (ACTIVE, INACTIVE, CREATING, FAILED), or
	// DELETING for a table whose deletion has begun.
	State string `json:"state"`
	// WorkflowID is the restore that created the store (none for the initial store).
	WorkflowID  string    `json:"workflowId,omitempty"`
	TableStatus string    `json:"tableStatus"`
	ItemCount   int64     `json:"itemCount"`
	SizeBytes   int64     `json:"sizeBytes"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Deletable says whether `lifeboat store delete` may delete the table: only
// tables of stores no environment uses and no restore is populating.
func (t StoreTable) Deletable() bool {
	switch t.State {
	case StoreInactive, StoreFailed, StoreTableDeleting:
		return true
	}
	return false
}

// StoreInUseError refuses to delete a table of the active store, or of a
// store a restore is populating.
type StoreInUseError struct {
	Env, Store, Table, Status, WorkflowID string
}

func (e *StoreInUseError) Error() string {
	switch e.Status {
	case StoreActive:
		return fmt.Sprintf("table %q belongs to store %q, the active store of environment %q: the active store is never deleted", e.Table, e.Store, e.Env)
	case StoreCreating:
		return fmt.Sprintf("table %q belongs to store %q of environment %q, which restore workflow %s is populating (CREATING): it cannot be deleted", e.Table, e.Store, e.Env, e.WorkflowID)
	}
	return fmt.Sprintf("table %q belongs to store %q of environment %q, which is %s: it cannot be deleted", e.Table, e.Store, e.Env, e.Status)
}

// NotStoreTableError says a table is not a dataset table Lifeboat recorded.
type NotStoreTableError struct {
	Table, Reason string
}

func (e *NotStoreTableError) Error() string {
	return fmt.Sprintf("table %q is not a Lifeboat store table: %s", e.Table, e.Reason)
}

// ListEnvironments lists every environment in the control table, by id.
func (r *Registry) ListEnvironments(ctx context.Context) ([]Environment, error) {
	var out []Environment
	p := dynamodb.NewScanPaginator(r.DB, &dynamodb.ScanInput{
		TableName:                 aws.String(r.Table),
		FilterExpression:          aws.String("#kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#kind": "kind"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": s("environment")},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list environments: %w", err)
		}
		var es []Environment
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &es); err != nil {
			return nil, fmt.Errorf("decode environments: %w", err)
		}
		out = append(out, es...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// StoreFilter narrows ListStoreTables; empty fields match everything.
type StoreFilter struct {
	EnvID     string
	DatasetID string
}

// ListStoreTables lists every dataset table of every store the registry
// records (DELETED stores aside) that DynamoDB still has: per environment,
// stores oldest first, datasets by id. A table a store never got (a dataset
// created after the store was switched away from) is not listed.
func (r *Registry) ListStoreTables(ctx context.Context, f StoreFilter) ([]StoreTable, error) {
	var envs []Environment
	if f.EnvID != "" {
		e, err := r.GetEnvironment(ctx, f.EnvID)
		if err != nil {
			return nil, err
		}
		envs = []Environment{*e}
	} else {
		var err error
		if envs, err = r.ListEnvironments(ctx); err != nil {
			return nil, err
		}
	}
	var out []StoreTable
	for _, e := range envs {
		ds, err := r.ListDatasets(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, d := range ds {
			if f.DatasetID == "" || d.ID == f.DatasetID {
				names = append(names, d.ID)
			}
		}
		if f.EnvID != "" && f.DatasetID != "" && len(names) == 0 {
			return nil, &NotFoundError{Kind: "dataset", Env: e.ID, ID: f.DatasetID}
		}
		sort.Strings(names)
		for _, store := range e.StoreIDs() {
			if e.Stores[store].Status == StoreDeleted {
				continue
			}
			for _, d := range names {
				t, found, err := r.describeStoreTable(ctx, &e, store, d)
				if err != nil {
					return nil, err
				}
				if found {
					out = append(out, t)
				}
			}
		}
	}
	return out, nil
}

// describeStoreTable reads one store table's figures from DynamoDB; found is
// false when DynamoDB has no such table.
func (r *Registry) describeStoreTable(ctx context.Context, e *Environment, store, dataset string) (StoreTable, bool, error) {
	st := e.Stores[store]
	t := StoreTable{
		EnvID: e.ID, StoreID: store, DatasetID: dataset, Table: r.TableName(e.ID, store, dataset),
		State: st.Status, WorkflowID: st.WorkflowID, CreatedAt: st.CreatedAt,
	}
	if e.ActiveStore == store {
		t.State = StoreActive // what the environment uses, whatever the record's status says
	}
	if slices.Contains(st.DeletedTables, t.Table) {
		t.State = StoreTableDeleting
	}
	out, err := r.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.Table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("describe table %s: %w", t.Table, err)
	}
	d := out.Table
	t.TableStatus = string(d.TableStatus)
	t.ItemCount, t.SizeBytes = aws.ToInt64(d.ItemCount), aws.ToInt64(d.TableSizeBytes)
	if d.CreationDateTime != nil {
		t.CreatedAt = d.CreationDateTime.UTC()
	}
	return t, true, nil
}

// ResolveStoreTable finds a table among the registry's store tables by its
// name (<prefix>.<env>.<store>.<dataset>). A name that does not parse, or
// names an environment, store or dataset the registry does not have, is a
// NotStoreTableError; so is a recorded table DynamoDB does not have.
func (r *Registry) ResolveStoreTable(ctx context.Context, table string) (StoreTable, error) {
	rest, ok := strings.CutPrefix(table, r.TablePrefix+".")
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("dataset tables are named %s.<env>.<store>.<dataset>", r.TablePrefix)}
	}
	env, store, dataset := parts[0], parts[1], parts[2]
	for _, id := range parts {
		if ids.Validate("table part", id) != nil {
			return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("%q is not a Lifeboat id", id)}
		}
	}
	e, err := r.GetEnvironment(ctx, env)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("no environment %q in control table %s", env, r.Table)}
	}
	if err != nil {
		return StoreTable{}, err
	}
	st, ok := e.Stores[store]
	if !ok {
		return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("environment %q has no store %q", env, store)}
	}
	if _, err := r.GetDataset(ctx, env, dataset); err != nil {
		if errors.As(err, &nf) {
			return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("environment %q has no dataset %q", env, dataset)}
		}
		return StoreTable{}, err
	}
	if st.Status == StoreDeleted {
		return StoreTable{}, &NotStoreTableError{Table: table, Reason: fmt.Sprintf("store %q of %q was deleted", store, env)}
	}
	t, found, err := r.describeStoreTable(ctx, e, store, dataset)
	if err != nil {
		return StoreTable{}, err
	}
	if !found {
		return StoreTable{}, &NotStoreTableError{Table: table, Reason: "DynamoDB has no such table (already deleted?)"}
	}
	return t, nil
}

// CheckDeletable refuses a table of the active store or of a store a
// restore is populating, naming it.
func CheckDeletable(t StoreTable) error {
	if t.Deletable() {
		return nil
	}
	return &StoreInUseError{Env: t.EnvID, Store: t.StoreID, Table: t.Table, Status: t.State, WorkflowID: t.WorkflowID}
}

// TableDeleteAPI is what deleting a store table needs besides the registry's API.
type TableDeleteAPI interface {
	DeleteTable(context.Context, *dynamodb.DeleteTableInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

// DeleteStoreTable deletes one table of an inactive (or failed) store. The
// deletion is recorded first, in one conditional write that holds only while
// the store is INACTIVE or FAILED and is not the active store, so a stale
// listing can never delete what an environment uses; then the table is
// deleted; then, once none of the store's tables is left, the store is
// marked DELETED. Running it again after an interruption finishes the job.
func (r *Registry) DeleteStoreTable(ctx context.Context, db TableDeleteAPI, t StoreTable, now time.Time) error {
	if err := CheckDeletable(t); err != nil {
		return err
	}
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(r.Table),
		Key:                 envKey(t.EnvID),
		UpdateExpression:    aws.String("SET stores.#id.deletedTables = list_append(if_not_exists(stores.#id.deletedTables, :none), :t)"),
		ConditionExpression: aws.String("activeStore <> :id AND stores.#id.#st IN (:inactive, :failed) AND NOT contains(stores.#id.deletedTables, :name)"),
		ExpressionAttributeNames: map[string]string{
			"#id": t.StoreID, "#st": "status",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":none": &types.AttributeValueMemberL{}, ":t": &types.AttributeValueMemberL{Value: []types.AttributeValue{s(t.Table)}},
			":name": s(t.Table), ":id": s(t.StoreID), ":inactive": s(StoreInactive), ":failed": s(StoreFailed),
		},
	})
	if isConditionFailed(err) {
		// Already recorded (a retry), or the store is not deletable after all.
		e, gerr := r.GetEnvironment(ctx, t.EnvID)
		if gerr != nil {
			return gerr
		}
		st := e.Stores[t.StoreID]
		switch {
		case e.ActiveStore == t.StoreID:
			return &StoreInUseError{Env: t.EnvID, Store: t.StoreID, Table: t.Table, Status: StoreActive}
		case st.Status != StoreInactive && st.Status != StoreFailed:
			return &StoreInUseError{Env: t.EnvID, Store: t.StoreID, Table: t.Table, Status: st.Status, WorkflowID: st.WorkflowID}
		}
	} else if err != nil {
		return fmt.Errorf("record deletion of %s in store %s of %s: %w", t.Table, t.StoreID, t.EnvID, err)
	}
	_, err = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.Table)})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete table %s: %w", t.Table, err)
	}
	return r.finishStoreDeletion(ctx, t.EnvID, t.StoreID, now)
}

// finishStoreDeletion marks a store DELETED once DynamoDB has none of its
// tables left (or only tables being deleted).
func (r *Registry) finishStoreDeletion(ctx context.Context, env, store string, now time.Time) error {
	e, err := r.GetEnvironment(ctx, env)
	if err != nil {
		return err
	}
	ds, err := r.ListDatasets(ctx, env)
	if err != nil {
		return err
	}
	for _, d := range ds {
		t, found, err := r.describeStoreTable(ctx, e, store, d.ID)
		if err != nil {
			return err
		}
		if found && t.TableStatus != string(types.TableStatusDeleting) {
			return nil // a table is left: the store stays as it is
		}
	}
	_, err = r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      envKey(env),
		UpdateExpression:         aws.String("SET stores.#id.#st = :deleted, stores.#id.deletedAt = :now"),
		ConditionExpression:      aws.String("activeStore <> :id AND stores.#id.#st IN (:inactive, :failed)"),
		ExpressionAttributeNames: map[string]string{"#id": store, "#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":deleted": s(StoreDeleted), ":now": ts(now), ":id": s(store), ":inactive": s(StoreInactive), ":failed": s(StoreFailed),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark store %s of %s deleted: %w", store, env, err)
	}
	return nil
}
