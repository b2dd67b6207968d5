package awsx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
)

// shortSTS answers AssumeRole with credentials that expire after life, a
// new access key id each call, and records when each key expires; any other
// request is S3's, answered 200 with its region, and recorded with the
// access key id it was signed with and when it arrived.
type shortSTS struct {
	life time.Duration

	mu      sync.Mutex
	expires map[string]time.Time // access key id -> expiry
	assumed int
	calls   []signedCall
}

type signedCall struct {
	key string
	at  time.Time
}

func (s *shortSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/" {
		if err := r.ParseForm(); err == nil && r.PostForm.Get("Action") == "AssumeRole" {
			s.mu.Lock()
			s.assumed++
			key := fmt.Sprintf("ASIATEST%08d", s.assumed)
			exp := time.Now().Add(s.life)
			s.expires[key] = exp
			s.mu.Unlock()
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token-%s</SessionToken>
<Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/writer/lifeboat</Arn><AssumedRoleId>AROATEST:lifeboat</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
				key, key, exp.UTC().Format("2006-01-02T15:04:05.000Z"))
			return
		}
	}
	// S3: Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/s3/aws4_request, ...
	auth := r.Header.Get("Authorization")
	key := ""
	if _, rest, ok := strings.Cut(auth, "Credential="); ok {
		key, _, _ = strings.Cut(rest, "/")
	}
	s.mu.Lock()
	s.calls = append(s.calls, signedCall{key: key, at: time.Now()})
	s.mu.Unlock()
	w.Header().Set("X-Amz-Bucket-Region", "us-east-1")
	w.WriteHeader(http.StatusOK)
}

// TestRoleCredentialsRefreshedBeforeExpiry: the credentials of an assumed
// role are replaced before they expire, not once they have, and not on
// every call either. STS hands out sessions of three seconds (a new access
// key each time) and the expiry window is one second (the product's
// minutes, scaled down; its jitter kept): S3 calls made through one
// Buckets over eight seconds, as a long activity makes them, must each be
// signed with a key that still has 400 ms to live when S3 receives it,
// STS must have been asked again, and a key must serve many calls. Without
// the expiry window (the SDK's own cache keeps a key until its last
// instant) calls arrive signed with keys about to expire; without the
// CredentialsCache every call assumes the role anew.
func TestRoleCredentialsRefreshedBeforeExpiry(t *testing.T) {
	defer awsx.SetRoleExpiryWindow(time.Second)()
	const life, margin, run = 3 * time.Second, 400 * time.Millisecond, 8 * time.Second
	srv := &shortSTS{life: life, expires: map[string]time.Time{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDWORKER", "secret", ""),
		BaseEndpoint: aws.String(ts.URL),
		HTTPClient:   ts.Client(),
	}
	pathStyle := func(o *s3.Options) { o.UsePathStyle = true }
	b := awsx.NewBuckets(cfg, s3.NewFromConfig(cfg, pathStyle), pathStyle)
	ctx := awsx.WithRole(context.Background(), awsx.Role{ARN: "arn:aws:iam::222222222222:role/writer", ExternalID: "lifeboat"})

	end := time.Now().Add(run)
	for time.Now().Before(end) {
		if _, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("backups")}); err != nil {
			t.Fatalf("head bucket: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	keys := map[string]bool{}
	late := 0
	for _, c := range srv.calls {
		exp, ok := srv.expires[c.key]
		if !ok {
			t.Fatalf("an S3 call was signed with %q, not with the role's credentials", c.key)
		}
		keys[c.key] = true
		if left := exp.Sub(c.at); left < margin {
			if late == 0 {
				t.Errorf("an S3 call arrived signed with %s, which expires %v later: want credentials refreshed at least %v before they expire", c.key, left.Round(time.Millisecond), margin)
			}
			late++
		}
	}
	if late > 1 {
		t.Errorf("%d of %d S3 calls were signed with credentials less than %v from expiry", late, len(srv.calls), margin)
	}
	// A refresh at most every 2 s (3 s sessions, a window of at most 1 s).
	if srv.assumed < 2 || len(keys) < 2 || srv.assumed > 6 {
		t.Errorf("STS was asked %d time(s) and S3 saw %d key(s) in %d calls over %v of %v sessions: want the role assumed again, a few times, not per call",
			srv.assumed, len(keys), len(srv.calls), run, life)
	}
}
