package client

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

func TestCheckRedisBackup(t *testing.T) {
	t.Parallel()
	ok := redis.BackupInput{Cluster: "shop", BackupLocation: "s3://backups/redis"}
	with := func(f func(*redis.BackupInput)) redis.BackupInput { in := ok; f(&in); return in }
	for name, tc := range map[string]struct {
		in   redis.BackupInput
		good bool
	}{
		"plain":          {ok, true},
		"aof":            {with(func(in *redis.BackupInput) { in.Format = "aof" }), true},
		"retain 3":       {with(func(in *redis.BackupInput) { in.Retention = &redis.RetentionPolicy{Count: 3} }), true},
		"retain 7 days":  {with(func(in *redis.BackupInput) { in.Retention = &redis.RetentionPolicy{Days: 7} }), true},
		"empty policy":   {with(func(in *redis.BackupInput) { in.Retention = &redis.RetentionPolicy{} }), false},
		"negative count": {with(func(in *redis.BackupInput) { in.Retention = &redis.RetentionPolicy{Count: -1} }), false},
		"no cluster":     {with(func(in *redis.BackupInput) { in.Cluster = "" }), false},
		"bad cluster":    {with(func(in *redis.BackupInput) { in.Cluster = "a.b" }), false},
		"bad location":   {with(func(in *redis.BackupInput) { in.BackupLocation = "b/redis" }), false},
		"bad format":     {with(func(in *redis.BackupInput) { in.Format = "csv" }), false},
	} {
		err := checkRedisBackup(tc.in)
		var invalid *InvalidInputError
		if tc.good && err != nil || !tc.good && !errors.As(err, &invalid) {
			t.Errorf("%s: %v, want ok=%t (or InvalidInputError)", name, err, tc.good)
		}
	}
}
