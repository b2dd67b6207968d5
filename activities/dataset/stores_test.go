package dataset

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

func TestChooseBackup(t *testing.T) {
	t.Parallel()
	ref := func(env, id string) backupstore.ManifestRef {
		return backupstore.ManifestRef{Key: env + "/s/ds/" + id + "/manifest.json", Env: env, Dataset: "ds", BackupID: id}
	}
	oneEnv := []backupstore.ManifestRef{ref("prod", "20210101T000000.000Z"), ref("prod", "20210102T000000.000Z")}
	twoEnvs := []backupstore.ManifestRef{ref("prod", "20210101T000000.000Z"), ref("test", "20210103T000000.000Z")}
	cases := []struct {
		name                        string
		refs                        []backupstore.ManifestRef
		sourceEnv, target, backupID string
		want                        string // backup id, or "" for an error
		noBackup                    bool
	}{
		{"latest", oneEnv, "", "prod", "", "20210102T000000.000Z", false},
		{"latest into another env", oneEnv, "", "other", "", "20210102T000000.000Z", false},
		{"by id", oneEnv, "", "prod", "20210101T000000.000Z", "20210101T000000.000Z", false},
		{"unknown id", oneEnv, "", "prod", "nope", "", true},
		{"none", nil, "", "prod", "", "", true},
		{"two envs prefer target", twoEnvs, "", "prod", "", "20210101T000000.000Z", false},
		{"two envs ambiguous", twoEnvs, "", "other", "", "", false},
		{"two envs source given", twoEnvs, "test", "prod", "", "20210103T000000.000Z", false},
		{"source env without backups", twoEnvs, "dev", "prod", "", "", true},
	}
	for _, c := range cases {
		got, err := chooseBackup(c.refs, c.sourceEnv, c.target, c.backupID)
		switch {
		case c.want != "":
			if err != nil || got.BackupID != c.want {
				t.Errorf("%s: got %+v, %v; want %s", c.name, got, err, c.want)
			}
		case err == nil:
			t.Errorf("%s: got %+v, want an error", c.name, got)
		case errors.Is(err, errNoBackup) != c.noBackup:
			t.Errorf("%s: error %v, want no-backup=%v", c.name, err, c.noBackup)
		}
	}
}
