package registry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// lostFirstResponse sends every PutItem twice and answers the second
// attempt, as the SDK does when the first response is lost after DynamoDB
// applied the write (a reset connection, a 500 after the commit).
type lostFirstResponse struct {
	registry.API
	lost int
}

func (l *lostFirstResponse) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := l.API.PutItem(ctx, in, opts...); err == nil {
		l.lost++
	}
	return l.API.PutItem(ctx, in, opts...)
}

// A create whose response was lost and retried by the SDK succeeds: the
// record the retry meets is its own. A second create is still refused.
func TestCreateSurvivesLostResponse(t *testing.T) {
	emu := pkgEmulator.Get(t)
	db := &lostFirstResponse{API: emu.AWS.DynamoDB}
	reg := &registry.Registry{DB: db, Table: control, TablePrefix: "st"}
	ctx := context.Background()
	env := fmt.Sprintf("lost%d", seq.Add(1))

	if _, err := reg.CreateEnvironment(ctx, env, time.Now()); err != nil {
		t.Fatalf("create environment after a lost response: %v", err)
	}
	if _, err := reg.CreateDataset(ctx, env, "orders", time.Now()); err != nil {
		t.Fatalf("create dataset after a lost response: %v", err)
	}
	if _, err := reg.PutRedisCluster(ctx, registry.RedisCluster{Name: env, Nodes: []registry.RedisNode{{ID: "n1", Addr: "127.0.0.1:1"}}}, false, time.Now()); err != nil {
		t.Fatalf("register Redis cluster after a lost response: %v", err)
	}
	if db.lost != 3 {
		t.Fatalf("%d writes were lost and retried, want 3", db.lost)
	}

	var exists *registry.AlreadyExistsError
	if _, err := reg.CreateEnvironment(ctx, env, time.Now()); !errors.As(err, &exists) {
		t.Errorf("second create of environment %s: got %v, want AlreadyExistsError", env, err)
	}
	plain := &registry.Registry{DB: emu.AWS.DynamoDB, Table: control, TablePrefix: "st"}
	if _, err := plain.CreateDataset(ctx, env, "orders", time.Now()); !errors.As(err, &exists) {
		t.Errorf("second create of dataset orders: got %v, want AlreadyExistsError", err)
	}
	var clusterExists *registry.RedisClusterExistsError
	if _, err := plain.PutRedisCluster(ctx, registry.RedisCluster{Name: env, Nodes: []registry.RedisNode{{ID: "n2", Addr: "127.0.0.1:2"}}}, false, time.Now()); !errors.As(err, &clusterExists) {
		t.Errorf("register other nodes under %s: got %v, want RedisClusterExistsError", env, err)
	}
}
