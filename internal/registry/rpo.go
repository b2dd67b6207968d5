package registry

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// InvalidRPOError refuses a recovery point objective that is negative or
// finer than a second.
type InvalidRPOError struct{ RPO time.Duration }

func (e *InvalidRPOError) Error() string {
	return fmt.Sprintf("RPO %s: want a whole number of seconds, at least 1s (or 0 to clear it)", e.RPO)
}

// CheckRPO accepts 0 (none) or a whole number of seconds from 1s up.
func CheckRPO(rpo time.Duration) error {
	if rpo < 0 || rpo%time.Second != 0 {
		return &InvalidRPOError{RPO: rpo}
	}
	return nil
}

// SetDatasetRPO stores a dataset's own recovery point objective; 0 clears
// it (its schedule's interval applies again).
func (r *Registry) SetDatasetRPO(ctx context.Context, env, dataset string, rpo time.Duration) error {
	if err := r.setRPO(ctx, datasetKey(env, dataset), rpo); err != nil {
		if isConditionFailed(err) {
			return &NotFoundError{Kind: "dataset", Env: env, ID: dataset}
		}
		return fmt.Errorf("set RPO of dataset %s/%s: %w", env, dataset, err)
	}
	return nil
}

// SetRedisClusterRPO stores a Redis cluster's own recovery point
// objective; 0 clears it.
func (r *Registry) SetRedisClusterRPO(ctx context.Context, cluster string, rpo time.Duration) error {
	if err := r.setRPO(ctx, redisClusterKey(cluster), rpo); err != nil {
		if isConditionFailed(err) {
			return &RedisClusterNotFoundError{Cluster: cluster}
		}
		return fmt.Errorf("set RPO of Redis cluster %s: %w", cluster, err)
	}
	return nil
}

// setRPO sets or removes rpoSeconds on an existing record: one conditional
// update, so it never creates a record and is safe to retry.
func (r *Registry) setRPO(ctx context.Context, key map[string]types.AttributeValue, rpo time.Duration) error {
	if err := CheckRPO(rpo); err != nil {
		return err
	}
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(r.Table),
		Key:                 key,
		UpdateExpression:    aws.String("REMOVE rpoSeconds"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	}
	if rpo > 0 {
		in.UpdateExpression = aws.String("SET rpoSeconds = :rpo")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":rpo": &types.AttributeValueMemberN{Value: strconv.FormatInt(int64(rpo/time.Second), 10)},
		}
	}
	_, err := r.DB.UpdateItem(ctx, in)
	return err
}
