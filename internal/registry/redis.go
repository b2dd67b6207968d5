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
)

// RedisCluster is a Redis cluster registered for backup: its nodes, each
// with its sidecar's task queue, and the workflow running on it, if any.
// It is one control-table record: pk REDIS#<cluster>, sk #CLUSTER.
type RedisCluster struct {
	Name      string      `dynamodbav:"cluster"`
	Nodes     []RedisNode `dynamodbav:"nodes"`
	HeldBy    string      `dynamodbav:"heldBy,omitempty"`
	HeldAt    time.Time   `dynamodbav:"heldAt,omitempty"`
	CreatedAt time.Time   `dynamodbav:"createdAt"`
	UpdatedAt time.Time   `dynamodbav:"updatedAt"`
	// RPOSeconds is the cluster's own recovery point objective (`redis
	// cluster set-rpo`), 0 when none is set (see Dataset.RPOSeconds).
	RPOSeconds int64 `dynamodbav:"rpoSeconds,omitempty"`
}

// RPO is the cluster's own recovery point objective, 0 when none is set.
func (c *RedisCluster) RPO() time.Duration { return time.Duration(c.RPOSeconds) * time.Second }

// RedisNode is one node of a cluster, in registration order.
type RedisNode struct {
	ID        string `dynamodbav:"id" json:"id"`
	Addr      string `dynamodbav:"addr" json:"addr"`
	TaskQueue string `dynamodbav:"taskQueue" json:"taskQueue"`
}

// NodeIDs lists the cluster's node ids in registration order.
func (c *RedisCluster) NodeIDs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.ID
	}
	return out
}

// RedisClusterNotFoundError says no Redis cluster of that name is registered.
type RedisClusterNotFoundError struct{ Cluster string }

func (e *RedisClusterNotFoundError) Error() string {
	return fmt.Sprintf("Redis cluster %q is not registered (lifeboat redis cluster register)", e.Cluster)
}

// RedisClusterExistsError says a cluster is registered with other nodes.
type RedisClusterExistsError struct{ Cluster string }

func (e *RedisClusterExistsError) Error() string {
	return fmt.Sprintf("Redis cluster %q is already registered with other nodes (use --replace to change them)", e.Cluster)
}

// RedisClusterHeldError says another workflow is backing up or restoring the cluster.
type RedisClusterHeldError struct{ Cluster, HeldBy string }

func (e *RedisClusterHeldError) Error() string {
	return fmt.Sprintf("Redis cluster %q is busy: held by workflow %s", e.Cluster, e.HeldBy)
}

func redisClusterKey(cluster string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": s("REDIS#" + cluster),
		"sk": s("#CLUSTER"),
	}
}

// PutRedisCluster registers a cluster. Registering the same nodes again is
// a no-op; other nodes replace the registered ones only with replace, and
// never while a workflow holds the cluster. It reports whether anything changed.
func (r *Registry) PutRedisCluster(ctx context.Context, c RedisCluster, replace bool, now time.Time) (bool, error) {
	old, err := r.GetRedisCluster(ctx, c.Name)
	if err == nil && sameNodes(old.Nodes, c.Nodes) {
		return false, nil
	}
	var nf *RedisClusterNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return false, err
	}
	c.CreatedAt, c.UpdatedAt, c.HeldBy, c.HeldAt = now.UTC(), now.UTC(), "", time.Time{}
	cond := "attribute_not_exists(pk)"
	if old != nil {
		if !replace {
			return false, &RedisClusterExistsError{Cluster: c.Name}
		}
		c.CreatedAt = old.CreatedAt
		if c.RPOSeconds == 0 {
			c.RPOSeconds = old.RPOSeconds // new nodes, same objective
		}
		cond = "attribute_not_exists(heldBy)"
	}
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return false, fmt.Errorf("encode Redis cluster %s: %w", c.Name, err)
	}
	for k, v := range redisClusterKey(c.Name) {
		item[k] = v
	}
	item["kind"] = s("redis-cluster")
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(r.Table), Item: item, ConditionExpression: aws.String(cond),
	})
	if isConditionFailed(err) {
		cur, gerr := r.GetRedisCluster(ctx, c.Name)
		if gerr == nil && cur.UpdatedAt.Equal(c.UpdatedAt) && sameNodes(cur.Nodes, c.Nodes) {
			return true, nil // a retried write whose first attempt landed
		}
		if gerr == nil && cur.HeldBy != "" {
			return false, &RedisClusterHeldError{Cluster: c.Name, HeldBy: cur.HeldBy}
		}
		return false, &RedisClusterExistsError{Cluster: c.Name}
	}
	if err != nil {
		return false, fmt.Errorf("register Redis cluster %s: %w", c.Name, err)
	}
	return true, nil
}

func sameNodes(a, b []RedisNode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// GetRedisCluster reads a cluster with a strongly consistent read.
func (r *Registry) GetRedisCluster(ctx context.Context, cluster string) (*RedisCluster, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.Table), Key: redisClusterKey(cluster), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read Redis cluster %s: %w", cluster, err)
	}
	if out.Item == nil {
		return nil, &RedisClusterNotFoundError{Cluster: cluster}
	}
	var c RedisCluster
	if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
		return nil, fmt.Errorf("decode Redis cluster %s: %w", cluster, err)
	}
	return &c, nil
}

// ListRedisClusters lists every registered cluster, by name. The control
// table is small, so a filtered scan is enough.
func (r *Registry) ListRedisClusters(ctx context.Context) ([]RedisCluster, error) {
	var out []RedisCluster
	p := dynamodb.NewScanPaginator(r.DB, &dynamodb.ScanInput{
		TableName:                aws.String(r.Table),
		FilterExpression:         aws.String("#kind = :kind"),
		ExpressionAttributeNames: map[string]string{"#kind": "kind"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":kind": s("redis-cluster"),
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list Redis clusters: %w", err)
		}
		var cs []RedisCluster
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &cs); err != nil {
			return nil, fmt.Errorf("decode Redis clusters: %w", err)
		}
		out = append(out, cs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// HoldRedisCluster marks the cluster as worked on by holder, so that no
// other backup or restore runs on it meanwhile. Holding it again with the
// same holder is a no-op, so retries are safe.
func (r *Registry) HoldRedisCluster(ctx context.Context, cluster, holder string, now time.Time) error {
	_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(r.Table),
		Key:                 redisClusterKey(cluster),
		UpdateExpression:    aws.String("SET heldBy = :h, heldAt = :now"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(heldBy) OR heldBy = :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":h": s(holder), ":now": ts(now),
		},
	})
	if err == nil {
		return nil
	}
	if !isConditionFailed(err) {
		return fmt.Errorf("hold Redis cluster %s: %w", cluster, err)
	}
	c, gerr := r.GetRedisCluster(ctx, cluster)
	if gerr != nil {
		return gerr
	}
	return &RedisClusterHeldError{Cluster: cluster, HeldBy: c.HeldBy}
}

// ReleaseRedisCluster ends holder's hold. Releasing a cluster held by
// someone else (or nobody) changes nothing, so compensation can call it
// blindly; with holder empty it releases whoever holds it (an operator
// clearing a hold left by a terminated workflow). It returns the holder released.
func (r *Registry) ReleaseRedisCluster(ctx context.Context, cluster, holder string) (string, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(r.Table),
		Key:                 redisClusterKey(cluster),
		UpdateExpression:    aws.String("REMOVE heldBy, heldAt"),
		ConditionExpression: aws.String("attribute_exists(heldBy)"),
		ReturnValues:        types.ReturnValueUpdatedOld,
	}
	if holder != "" {
		in.ConditionExpression = aws.String("heldBy = :h")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":h": s(holder)}
	}
	out, err := r.DB.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("release Redis cluster %s: %w", cluster, err)
	}
	if v, ok := out.Attributes["heldBy"].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return holder, nil
}
