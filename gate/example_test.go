package gate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lifeboat-dev/lifeboat/gate"
)

// An application writes through one Gate built from its DynamoDB client. A
// write refused because a backup or restore holds the dataset wrote
// nothing: wait and send it again.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx) // AWS_REGION, credentials, AWS_ENDPOINT_URL...
	if err != nil {
		log.Fatal(err)
	}
	g := gate.New(dynamodb.NewFromConfig(cfg), gate.Options{ControlTable: "lifeboat-control"})

	order := gate.Item{Key: "order-1001", Value: `{"total": 42}`}
	for {
		err := g.Put(ctx, "prod", "orders", order)
		if errors.Is(err, gate.ErrWritesPaused) {
			log.Printf("%v", err) // names the dataset and the workflow holding it
			time.Sleep(time.Second)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		break
	}
	// Many items at once, all or none; then delete one.
	err = g.BatchPut(ctx, "prod", "orders", []gate.Item{
		{Key: "order-1002", Value: `{"total": 7}`},
		{Key: "order-1003", Value: `{"total": 9}`},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := g.Delete(ctx, "prod", "orders", "order-1002"); err != nil {
		log.Fatal(err)
	}
}

// The refusal names the dataset and the workflow that holds it.
func ExampleWritesPausedError() {
	// As a Put returns it while a backup holds prod/orders:
	err := fmt.Errorf("save order: %w", &gate.WritesPausedError{
		Env: "prod", Dataset: "orders", Status: "PAUSED", HeldBy: "backup-prod-orders-20260101T020000.000Z",
	})

	var paused *gate.WritesPausedError
	if errors.As(err, &paused) {
		fmt.Printf("%s/%s is held by %s\n", paused.Env, paused.Dataset, paused.HeldBy)
	}
	fmt.Println(errors.Is(err, gate.ErrWritesPaused))
	fmt.Println(err)
	// Output:
	// prod/orders is held by backup-prod-orders-20260101T020000.000Z
	// true
	// save order: write refused: dataset prod/orders is PAUSED (held by workflow backup-prod-orders-20260101T020000.000Z); retry later
}
