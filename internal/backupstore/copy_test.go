package backupstore

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
)

func TestPartHasherETag(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1001)
	for _, size := range []int64{7, 1000, 5000, 10010, 20000} {
		var progress atomic.Int64
		h := newPartHasher(bytes.NewReader(data), size, &progress)
		if _, err := io.Copy(io.Discard, h); err != nil {
			t.Fatal(err)
		}
		var sums []byte
		count := 0
		for off := int64(0); off < int64(len(data)); off += size {
			s := md5.Sum(data[off:min(off+size, int64(len(data)))])
			sums = append(sums, s[:]...)
			count++
		}
		want := fmt.Sprintf("%s-%d", md5hex(sums), count)
		if got := h.etag("x-1"); got != want {
			t.Errorf("part size %d: multipart ETag %s, want %s", size, got, want)
		}
		if got := h.etag("x"); got != md5hex(data) {
			t.Errorf("part size %d: ETag %s, want the MD5", size, got)
		}
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
