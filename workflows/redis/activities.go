package redis

import redisact "github.com/lifeboat-dev/lifeboat/activities/redis"

// The activities, as nil receivers: workflows name an activity by its
// method (redisClusters.PlanRedisBackup), the worker registers the real
// structs (Node only on each node's sidecar).
var (
	redisNode     *redisact.Node
	redisClusters *redisact.Clusters
	redisCopies   *redisact.Copies
)
