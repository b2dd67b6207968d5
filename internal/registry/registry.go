// Package registry is Lifeboat's control table in DynamoDB: environments
// (their active store and the stores they have known) and datasets (their
// status and which workflow holds a pause on them).
//
// Every state change is a single conditional write, so two workflows can
// never both believe they hold the same dataset.
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

// Dataset statuses, as in the seed.
const (
	StatusRunning = "RUNNING"
	StatusPausing = "PAUSING"
	StatusPaused  = "PAUSED"
)

// Store statuses.
const (
	StoreActive   = "ACTIVE"   // the environment's current store
	StoreInactive = "INACTIVE" // an earlier store, kept after a restore switched away from it
	StoreCreating = "CREATING" // being populated by a restore
	StoreFailed   = "FAILED"   // a restore into it did not finish; never switched to
	// StoreDeleted (stores.go): its tables were deleted.
)

// InitialStoreID is the store every environment starts with.
const InitialStoreID = "initial"

// API is the part of the DynamoDB client the registry needs.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateContinuousBackups(context.Context, *dynamodb.UpdateContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error)
	DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
}

// Registry reads and writes the control table.
type Registry struct {
	DB          API
	Table       string // control table name
	TablePrefix string // prefix of dataset table names
}

// Environment is a set of datasets that share one active store.
type Environment struct {
	ID          string           `dynamodbav:"envId"`
	ActiveStore string           `dynamodbav:"activeStore"`
	Stores      map[string]Store `dynamodbav:"stores"`
	CreatedAt   time.Time        `dynamodbav:"createdAt"`
	// ScratchFor and ScratchWorkflowID mark a scratch environment a restore
	// test made (scratch.go): the environment it tests and the test's
	// workflow. Only such an environment can ever be deleted.
	ScratchFor        string `dynamodbav:"scratchFor,omitempty"`
	ScratchWorkflowID string `dynamodbav:"scratchWorkflowId,omitempty"`
}

// Store is one generation of an environment's data.
type Store struct {
	Status     string    `dynamodbav:"status"`
	CreatedAt  time.Time `dynamodbav:"createdAt"`
	WorkflowID string    `dynamodbav:"workflowId,omitempty"`
	// DeletedTables are the store's tables `lifeboat store delete` deleted
	// (or began to), DeletedAt when the last one went (status DELETED).
	DeletedTables []string  `dynamodbav:"deletedTables,omitempty"`
	DeletedAt     time.Time `dynamodbav:"deletedAt,omitempty"`
}

// StoreIDs lists the environment's stores, oldest first.
func (e *Environment) StoreIDs() []string {
	out := make([]string, 0, len(e.Stores))
	for id := range e.Stores {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := e.Stores[out[i]], e.Stores[out[j]]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return out[i] < out[j]
	})
	return out
}

// Dataset is a named collection of items in an environment.
type Dataset struct {
	EnvID     string    `dynamodbav:"envId"`
	ID        string    `dynamodbav:"datasetId"`
	Status    string    `dynamodbav:"status"`
	HeldBy    string    `dynamodbav:"heldBy,omitempty"`
	PausedAt  time.Time `dynamodbav:"pausedAt,omitempty"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
	// RPOSeconds is the dataset's own recovery point objective (`dataset
	// set-rpo`): how old its newest backup may be. 0 means none is set, and
	// `lifeboat report` takes the interval of the schedule backing it up.
	RPOSeconds int64 `dynamodbav:"rpoSeconds,omitempty"`
}

// RPO is the dataset's own recovery point objective, 0 when none is set.
func (d *Dataset) RPO() time.Duration { return time.Duration(d.RPOSeconds) * time.Second }

// NotFoundError says an environment or dataset does not exist.
type NotFoundError struct {
	Kind string // "environment" or "dataset"
	Env  string
	ID   string
}

func (e *NotFoundError) Error() string {
	if e.Kind == "environment" {
		return fmt.Sprintf("environment %q not found", e.ID)
	}
	return fmt.Sprintf("dataset %q not found in environment %q", e.ID, e.Env)
}

// AlreadyExistsError says an environment, dataset or store id is taken.
type AlreadyExistsError struct {
	Kind, Env, ID string
}

func (e *AlreadyExistsError) Error() string {
	if e.Kind == "environment" {
		return fmt.Sprintf("environment %q already exists", e.ID)
	}
	return fmt.Sprintf("%s %q already exists in environment %q", e.Kind, e.ID, e.Env)
}

// HeldError says another workflow holds a pause on the dataset.
type HeldError struct {
	Env, Dataset, HeldBy, Status string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("dataset %s/%s is %s, held by workflow %s", e.Env, e.Dataset, e.Status, e.HeldBy)
}

// NotHolderError says a workflow acted on a pause it does not hold.
type NotHolderError struct {
	Env, Dataset, Holder, HeldBy, Status string
}

func (e *NotHolderError) Error() string {
	return fmt.Sprintf("dataset %s/%s is %s and held by %q, not by workflow %s", e.Env, e.Dataset, e.Status, e.HeldBy, e.Holder)
}

// StoreConflictError says the environment's active store is not the one expected.
type StoreConflictError struct {
	Env, Expected, Actual string
}

func (e *StoreConflictError) Error() string {
	return fmt.Sprintf("environment %q: active store is %q, expected %q", e.Env, e.Actual, e.Expected)
}

func envKey(env string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ENV#" + env},
		"sk": &types.AttributeValueMemberS{Value: "#ENV"},
	}
}

func datasetKey(env, dataset string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ENV#" + env},
		"sk": &types.AttributeValueMemberS{Value: "DS#" + dataset},
	}
}

// EnvironmentKey and DatasetKey expose the control-table keys to the write gate.
func EnvironmentKey(env string) map[string]types.AttributeValue { return envKey(env) }

// DatasetKey is the control-table key of a dataset record.
func DatasetKey(env, dataset string) map[string]types.AttributeValue {
	return datasetKey(env, dataset)
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func ts(t time.Time) types.AttributeValue { return s(t.UTC().Format(time.RFC3339Nano)) }

// EnsureControlTable creates the control table if it does not exist and waits
// until it is usable. It is safe to call from every worker at start-up.
func (r *Registry) EnsureControlTable(ctx context.Context) error {
	_, err := r.DB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(r.Table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create control table %s: %w", r.Table, err)
	}
	return waitTableActive(ctx, r.DB, r.Table)
}

func waitTableActive(ctx context.Context, db API, table string) error {
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	return nil
}

// CreateEnvironment registers a new environment with its initial store.
func (r *Registry) CreateEnvironment(ctx context.Context, env string, now time.Time) (*Environment, error) {
	if err := ids.Validate("environment", env); err != nil {
		return nil, err
	}
	e := &Environment{
		ID:          env,
		ActiveStore: InitialStoreID,
		Stores:      map[string]Store{InitialStoreID: {Status: StoreActive, CreatedAt: now.UTC()}},
		CreatedAt:   now.UTC(),
	}
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, fmt.Errorf("encode environment %s: %w", env, err)
	}
	for k, v := range envKey(env) {
		item[k] = v
	}
	item["kind"] = s("environment")
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(r.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		// The SDK retries a write whose response was lost; the retry then
		// meets the record its first attempt wrote. That one is ours.
		if cur, gerr := r.GetEnvironment(ctx, env); gerr == nil && cur.CreatedAt.Equal(e.CreatedAt) {
			return cur, nil
		}
		return nil, &AlreadyExistsError{Kind: "environment", ID: env}
	}
	if err != nil {
		return nil, fmt.Errorf("create environment %s: %w", env, err)
	}
	return e, nil
}

// GetEnvironment reads an environment with a strongly consistent read.
func (r *Registry) GetEnvironment(ctx context.Context, env string) (*Environment, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.Table), Key: envKey(env), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read environment %s: %w", env, err)
	}
	if out.Item == nil {
		return nil, &NotFoundError{Kind: "environment", ID: env}
	}
	var e Environment
	if err := attributevalue.UnmarshalMap(out.Item, &e); err != nil {
		return nil, fmt.Errorf("decode environment %s: %w", env, err)
	}
	return &e, nil
}

// TableName is the table holding a dataset's items in a store.
func (r *Registry) TableName(env, store, dataset string) string {
	return ids.TableName(r.TablePrefix, env, store, dataset)
}

// CreateDataset registers a dataset and creates its table, with point-in-time
// recovery on, in the environment's active store.
func (r *Registry) CreateDataset(ctx context.Context, env, dataset string, now time.Time) (*Dataset, error) {
	if err := ids.Validate("dataset", dataset); err != nil {
		return nil, err
	}
	e, err := r.GetEnvironment(ctx, env)
	if err != nil {
		return nil, err
	}
	if _, err := r.GetDataset(ctx, env, dataset); err == nil {
		return nil, &AlreadyExistsError{Kind: "dataset", Env: env, ID: dataset}
	}
	// The table first: a dataset record never points at a table that is not there.
	if err := r.EnsureDataTable(ctx, r.TableName(env, e.ActiveStore, dataset)); err != nil {
		return nil, err
	}
	d := &Dataset{EnvID: env, ID: dataset, Status: StatusRunning, CreatedAt: now.UTC()}
	item, err := attributevalue.MarshalMap(d)
	if err != nil {
		return nil, fmt.Errorf("encode dataset %s: %w", dataset, err)
	}
	for k, v := range datasetKey(env, dataset) {
		item[k] = v
	}
	item["kind"] = s("dataset")
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(r.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		// A retried write whose first attempt landed (see CreateEnvironment).
		if cur, gerr := r.GetDataset(ctx, env, dataset); gerr == nil && cur.CreatedAt.Equal(d.CreatedAt) {
			return cur, nil
		}
		return nil, &AlreadyExistsError{Kind: "dataset", Env: env, ID: dataset}
	}
	if err != nil {
		return nil, fmt.Errorf("create dataset %s/%s: %w", env, dataset, err)
	}
	return d, nil
}

// DataKeyAttribute is the partition key of every dataset table.
const DataKeyAttribute = "key"

// DataTableKeySchema is the key schema of every dataset table.
func DataTableKeySchema() ([]types.AttributeDefinition, []types.KeySchemaElement) {
	return []types.AttributeDefinition{{AttributeName: aws.String(DataKeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
		[]types.KeySchemaElement{{AttributeName: aws.String(DataKeyAttribute), KeyType: types.KeyTypeHash}}
}

// EnsureDataTable creates an empty dataset table (if missing) and turns on
// point-in-time recovery, which backups export from.
func (r *Registry) EnsureDataTable(ctx context.Context, table string) error {
	attrs, keys := DataTableKeySchema()
	_, err := r.DB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: attrs,
		KeySchema:            keys,
		Tags:                 []types.Tag{{Key: aws.String("Managed-By"), Value: aws.String("Lifeboat")}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	if err := waitTableActive(ctx, r.DB, table); err != nil {
		return err
	}
	return r.EnablePITR(ctx, table)
}

// PITRWait bounds how long EnablePITR retries while DynamoDB answers that
// continuous backups are not available yet.
var PITRWait = 10 * time.Minute

// EnablePITR turns on point-in-time recovery for a table (idempotent). Right
// after CreateTable or an import DynamoDB answers
// ContinuousBackupsUnavailableException for a while ("Backups are being
// enabled for the table"): that answer is retried with backoff, for at most
// PITRWait or until ctx ends.
func (r *Registry) EnablePITR(ctx context.Context, table string) error {
	deadline := time.Now().Add(PITRWait)
	pause := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := r.DB.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
			TableName: aws.String(table),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: aws.Bool(true),
			},
		})
		var unavailable *types.ContinuousBackupsUnavailableException
		if err == nil {
			return nil
		}
		if !errors.As(err, &unavailable) || time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("enable point-in-time recovery on %s (attempt %d): %w", table, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable point-in-time recovery on %s: %w (last answer: %v)", table, ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
	}
}

// PITRWindow is the range of times a table can be exported from.
type PITRWindow struct {
	Enabled  bool
	Earliest time.Time
}

// PointInTimeWindow reads a table's point-in-time recovery window.
func (r *Registry) PointInTimeWindow(ctx context.Context, table string) (PITRWindow, error) {
	out, err := r.DB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil {
		return PITRWindow{}, fmt.Errorf("describe continuous backups of %s: %w", table, err)
	}
	d := out.ContinuousBackupsDescription
	if d == nil || d.PointInTimeRecoveryDescription == nil ||
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		return PITRWindow{}, nil
	}
	w := PITRWindow{Enabled: true}
	if e := d.PointInTimeRecoveryDescription.EarliestRestorableDateTime; e != nil {
		w.Earliest = *e
	}
	return w, nil
}

// GetDataset reads a dataset with a strongly consistent read.
func (r *Registry) GetDataset(ctx context.Context, env, dataset string) (*Dataset, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.Table), Key: datasetKey(env, dataset), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read dataset %s/%s: %w", env, dataset, err)
	}
	if out.Item == nil {
		return nil, &NotFoundError{Kind: "dataset", Env: env, ID: dataset}
	}
	var d Dataset
	if err := attributevalue.UnmarshalMap(out.Item, &d); err != nil {
		return nil, fmt.Errorf("decode dataset %s/%s: %w", env, dataset, err)
	}
	return &d, nil
}

// ListDatasets lists an environment's datasets in id order.
func (r *Registry) ListDatasets(ctx context.Context, env string) ([]Dataset, error) {
	var out []Dataset
	p := dynamodb.NewQueryPaginator(r.DB, &dynamodb.QueryInput{
		TableName:              aws.String(r.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :ds)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s("ENV#" + env), ":ds": s("DS#"),
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list datasets of %s: %w", env, err)
		}
		var ds []Dataset
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &ds); err != nil {
			return nil, fmt.Errorf("decode datasets of %s: %w", env, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// Pause moves a RUNNING dataset to PAUSING, held by holder. Calling it again
// with the same holder is a no-op, so retries are safe. A dataset held by
// another workflow is refused with a HeldError.
func (r *Registry) Pause(ctx context.Context, env, dataset, holder string, now time.Time) error {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      datasetKey(env, dataset),
		UpdateExpression:         aws.String("SET #st = :pausing, heldBy = :h, pausedAt = :now"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND ((#st = :running AND attribute_not_exists(heldBy)) OR heldBy = :h)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pausing": s(StatusPausing), ":running": s(StatusRunning), ":h": s(holder), ":now": ts(now),
		},
	})
	if err == nil {
		return nil
	}
	if !isConditionFailed(err) {
		return fmt.Errorf("pause dataset %s/%s: %w", env, dataset, err)
	}
	d, gerr := r.GetDataset(ctx, env, dataset)
	if gerr != nil {
		return gerr
	}
	if d.HeldBy == holder {
		// Our earlier attempt already moved it on (e.g. to PAUSED): fine.
		return nil
	}
	return &HeldError{Env: env, Dataset: dataset, HeldBy: d.HeldBy, Status: d.Status}
}

// MarkPaused moves a dataset held by holder from PAUSING to PAUSED.
func (r *Registry) MarkPaused(ctx context.Context, env, dataset, holder string) error {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      datasetKey(env, dataset),
		UpdateExpression:         aws.String("SET #st = :paused"),
		ConditionExpression:      aws.String("heldBy = :h"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":paused": s(StatusPaused), ":h": s(holder),
		},
	})
	if isConditionFailed(err) {
		d, gerr := r.GetDataset(ctx, env, dataset)
		if gerr != nil {
			return gerr
		}
		return &NotHolderError{Env: env, Dataset: dataset, Holder: holder, HeldBy: d.HeldBy, Status: d.Status}
	}
	if err != nil {
		return fmt.Errorf("mark dataset %s/%s paused: %w", env, dataset, err)
	}
	return nil
}

// Resume returns a dataset held by holder to RUNNING. It reports whether this
// call resumed it; resuming a dataset not held by holder changes nothing, so
// compensation can call it blindly and more than once.
func (r *Registry) Resume(ctx context.Context, env, dataset, holder string) (bool, error) {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      datasetKey(env, dataset),
		UpdateExpression:         aws.String("SET #st = :running REMOVE heldBy, pausedAt"),
		ConditionExpression:      aws.String("heldBy = :h"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":running": s(StatusRunning), ":h": s(holder),
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resume dataset %s/%s: %w", env, dataset, err)
	}
	return true, nil
}

// CreateStore records a new store in CREATING state. Retrying with the same
// workflow id is a no-op; an id already used is refused.
func (r *Registry) CreateStore(ctx context.Context, env, store, workflowID string, now time.Time) error {
	if err := ids.Validate("store", store); err != nil {
		return err
	}
	st, err := attributevalue.MarshalMap(Store{Status: StoreCreating, CreatedAt: now.UTC(), WorkflowID: workflowID})
	if err != nil {
		return fmt.Errorf("encode store %s: %w", store, err)
	}
	_, err = r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.Table),
		Key:                       envKey(env),
		UpdateExpression:          aws.String("SET stores.#id = :store"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(stores.#id)"),
		ExpressionAttributeNames:  map[string]string{"#id": store},
		ExpressionAttributeValues: map[string]types.AttributeValue{":store": &types.AttributeValueMemberM{Value: st}},
	})
	if err == nil {
		return nil
	}
	if !isConditionFailed(err) {
		return fmt.Errorf("create store %s in %s: %w", store, env, err)
	}
	e, gerr := r.GetEnvironment(ctx, env)
	if gerr != nil {
		return gerr
	}
	if existing, ok := e.Stores[store]; ok && existing.WorkflowID == workflowID && workflowID != "" {
		return nil
	}
	return &AlreadyExistsError{Kind: "store", Env: env, ID: store}
}

// SwitchStore makes store the environment's active store, in one conditional
// update that only succeeds if the active store is still from. The old store
// is kept as INACTIVE. Repeating a switch already done is a no-op.
func (r *Registry) SwitchStore(ctx context.Context, env, from, to string) error {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      envKey(env),
		UpdateExpression:         aws.String("SET activeStore = :to, stores.#to.#st = :active, stores.#from.#st = :inactive"),
		ConditionExpression:      aws.String("activeStore = :from AND stores.#to.#st = :creating"),
		ExpressionAttributeNames: map[string]string{"#to": to, "#from": from, "#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": s(to), ":from": s(from), ":active": s(StoreActive), ":inactive": s(StoreInactive), ":creating": s(StoreCreating),
		},
	})
	if err == nil {
		return nil
	}
	if !isConditionFailed(err) {
		return fmt.Errorf("switch %s from store %s to %s: %w", env, from, to, err)
	}
	e, gerr := r.GetEnvironment(ctx, env)
	if gerr != nil {
		return gerr
	}
	if e.ActiveStore == to {
		return nil
	}
	return &StoreConflictError{Env: env, Expected: from, Actual: e.ActiveStore}
}

// FailStore marks a store that a restore could not finish as FAILED. Only a
// store still CREATING changes; anything else is left as it is.
func (r *Registry) FailStore(ctx context.Context, env, store string) error {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Table),
		Key:                      envKey(env),
		UpdateExpression:         aws.String("SET stores.#id.#st = :failed"),
		ConditionExpression:      aws.String("stores.#id.#st = :creating"),
		ExpressionAttributeNames: map[string]string{"#id": store, "#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": s(StoreFailed), ":creating": s(StoreCreating),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark store %s of %s failed: %w", store, env, err)
	}
	return nil
}
