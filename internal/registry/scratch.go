package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// A scratch environment is what a dataset restore test restores into: an
// environment of its own, created by the test and deleted by it, records
// and tables. Its environment and dataset records carry the test's
// workflow id (scratchWorkflowId), and DeleteScratchEnvironment deletes
// nothing that does not carry it, in conditional writes: whatever id a bug
// passes, a real environment is never deleted.
//
// Its datasets are created without tables: the initial store of a scratch
// environment is never written to, and the restore the test runs creates
// the tables of the store it switches to.

// scratchAttr is the attribute marking scratch records.
const scratchAttr = "scratchWorkflowId"

// NotScratchError refuses to delete an environment a restore test did not
// create (or that another restore test created).
type NotScratchError struct {
	Env, WorkflowID, Owner string
}

func (e *NotScratchError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("environment %q is not a scratch environment: it is never deleted", e.Env)
	}
	return fmt.Sprintf("scratch environment %q belongs to restore test %s, not %s: left alone", e.Env, e.Owner, e.WorkflowID)
}

// IsScratch reports whether the environment is a restore test's scratch
// environment.
func (e *Environment) IsScratch() bool { return e.ScratchWorkflowID != "" }

// ScratchEnvID names the scratch environment of a restore test of env:
// "<env>-rt-<suffix>", the environment id cut so that the whole stays a
// valid id (63 characters at most).
func ScratchEnvID(env, suffix string) string {
	const tail = 4 + 12 // "-rt-" and a suffix of up to 12 characters
	if len(suffix) > 12 {
		suffix = suffix[:12]
	}
	if len(env) > 63-tail {
		env = env[:63-tail]
	}
	return env + "-rt-" + suffix
}

// CreateScratchEnvironment registers a scratch environment for the restore
// test workflowID of source, with the given datasets (records only, no
// tables). A retry by the same workflow finds its own records and
// succeeds; an id already taken otherwise is an AlreadyExistsError.
func (r *Registry) CreateScratchEnvironment(ctx context.Context, env, source, workflowID string, datasets []string, now time.Time) (*Environment, error) {
	if err := ids.Validate("environment", env); err != nil {
		return nil, err
	}
	if workflowID == "" {
		return nil, errors.New("a scratch environment needs the workflow id of its restore test")
	}
	e := &Environment{
		ID: env, ActiveStore: InitialStoreID, CreatedAt: now.UTC(),
		Stores:     map[string]Store{InitialStoreID: {Status: StoreActive, CreatedAt: now.UTC(), WorkflowID: workflowID}},
		ScratchFor: source, ScratchWorkflowID: workflowID,
	}
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, fmt.Errorf("encode environment %s: %w", env, err)
	}
	for k, v := range envKey(env) {
		item[k] = v
	}
	item["kind"] = s("environment")
	if err := r.putScratch(ctx, item, workflowID); err != nil {
		if isConditionFailed(err) {
			return nil, &AlreadyExistsError{Kind: "environment", ID: env}
		}
		return nil, fmt.Errorf("create scratch environment %s: %w", env, err)
	}
	for _, ds := range datasets {
		if err := ids.Validate("dataset", ds); err != nil {
			return nil, err
		}
		d := &Dataset{EnvID: env, ID: ds, Status: StatusRunning, CreatedAt: now.UTC()}
		item, err := attributevalue.MarshalMap(d)
		if err != nil {
			return nil, fmt.Errorf("encode dataset %s: %w", ds, err)
		}
		for k, v := range datasetKey(env, ds) {
			item[k] = v
		}
		item["kind"] = s("dataset")
		if err := r.putScratch(ctx, item, workflowID); err != nil {
			if isConditionFailed(err) {
				return nil, &AlreadyExistsError{Kind: "dataset", Env: env, ID: ds}
			}
			return nil, fmt.Errorf("create scratch dataset %s/%s: %w", env, ds, err)
		}
	}
	return e, nil
}

// putScratch writes a new scratch record, or rewrites one the same
// workflow wrote (a retry): never anything else.
func (r *Registry) putScratch(ctx context.Context, item map[string]types.AttributeValue, workflowID string) error {
	item[scratchAttr] = s(workflowID)
	_, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(r.Table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #scratch = :wf"),
		ExpressionAttributeNames:  map[string]string{"#scratch": scratchAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":wf": s(workflowID)},
	})
	return err
}

// ScratchDeleteAPI is what deleting a scratch environment needs besides
// the registry's API.
type ScratchDeleteAPI interface {
	TableDeleteAPI
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// TableBusyError says a scratch table cannot be deleted yet (DynamoDB is
// still creating or importing it): the deletion is to be tried again.
type TableBusyError struct {
	Table string
	Err   error
}

func (e *TableBusyError) Error() string {
	return fmt.Sprintf("table %s is busy (being created or imported), try again: %v", e.Table, e.Err)
}
func (e *TableBusyError) Unwrap() error { return e.Err }

// DeleteScratchEnvironment deletes the scratch environment workflowID
// created: every table of every store it records (tables first, so a
// retry after an interruption still knows their names), then its dataset
// records, then its environment record, each record in a write
// conditioned on carrying workflowID. An environment that is gone already
// is done; one that is not that workflow's scratch environment is a
// NotScratchError, and nothing of it is touched. onTable, if set, is
// called with each table deleted (or found gone).
func (r *Registry) DeleteScratchEnvironment(ctx context.Context, db ScratchDeleteAPI, env, workflowID string, onTable func(string)) error {
	e, err := r.GetEnvironment(ctx, env)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.ScratchWorkflowID == "" || workflowID == "" || e.ScratchWorkflowID != workflowID {
		return &NotScratchError{Env: env, WorkflowID: workflowID, Owner: e.ScratchWorkflowID}
	}
	ds, err := r.ListDatasets(ctx, env)
	if err != nil {
		return err
	}
	stores := make([]string, 0, len(e.Stores))
	for id := range e.Stores {
		stores = append(stores, id)
	}
	sort.Strings(stores)
	for _, store := range stores {
		for _, d := range ds {
			table := r.TableName(env, store, d.ID)
			_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			var gone *types.ResourceNotFoundException
			var inUse *types.ResourceInUseException
			switch {
			case err == nil, errors.As(err, &gone):
			case errors.As(err, &inUse):
				return &TableBusyError{Table: table, Err: err}
			default:
				return fmt.Errorf("delete scratch table %s: %w", table, err)
			}
			if onTable != nil {
				onTable(table)
			}
		}
	}
	for _, d := range ds {
		if err := r.deleteScratch(ctx, db, datasetKey(env, d.ID), workflowID); err != nil {
			return fmt.Errorf("delete scratch dataset %s/%s: %w", env, d.ID, err)
		}
	}
	if err := r.deleteScratch(ctx, db, envKey(env), workflowID); err != nil {
		return fmt.Errorf("delete scratch environment %s: %w", env, err)
	}
	return nil
}

// deleteScratch deletes one record if it carries workflowID; a record
// already gone is fine.
func (r *Registry) deleteScratch(ctx context.Context, db ScratchDeleteAPI, key map[string]types.AttributeValue, workflowID string) error {
	_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(r.Table),
		Key:                       key,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #scratch = :wf"),
		ExpressionAttributeNames:  map[string]string{"#scratch": scratchAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":wf": s(workflowID)},
	})
	if isConditionFailed(err) {
		return errors.New("the record is not this restore test's scratch record: left alone")
	}
	return err
}
