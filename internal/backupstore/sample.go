package backupstore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// SampleObject reads one exported data object whole, as Digest does (its
// size, checksums and item count, to compare with the manifest), and keeps
// k of its items chosen uniformly at random by rng (reservoir sampling: one
// pass, k lines in memory), as raw DynamoDB JSON lines. onBytes is as for
// Digest.
func SampleObject(ctx context.Context, api API, bucket, key string, k int, rng *rand.Rand, onBytes func(int64)) (ObjectDigest, [][]byte, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectDigest{}, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	h, m := sha256.New(), md5.New()
	counter := &countingWriter{onBytes: onBytes}
	tee := io.TeeReader(bodyReader{out.Body}, io.MultiWriter(h, m, counter))
	items, sample, err := sampleLines(tee, strings.HasSuffix(key, ".gz"), k, rng)
	if err != nil {
		if ctx.Err() == nil && !isReadError(err) {
			return ObjectDigest{}, nil, &BadDataError{Key: key, Err: err}
		}
		return ObjectDigest{}, nil, fmt.Errorf("sample items of s3://%s/%s: %w", bucket, key, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return ObjectDigest{}, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return ObjectDigest{
		Key: key, Size: counter.n, Items: items,
		SHA256: hex.EncodeToString(h.Sum(nil)), MD5: base64.StdEncoding.EncodeToString(m.Sum(nil)),
	}, sample, nil
}

func sampleLines(r io.Reader, gz bool, k int, rng *rand.Rand) (int64, [][]byte, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, nil, err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // DynamoDB items are at most 400 KB
	var n int64
	var kept [][]byte
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		switch {
		case len(kept) < k:
			kept = append(kept, bytes.Clone(line))
		case k > 0:
			if j := rng.Int64N(n); j < int64(k) {
				kept[j] = bytes.Clone(line)
			}
		}
	}
	return n, kept, sc.Err()
}

// DecodeExportItem reads one line of a DynamoDB JSON export
// ({"Item": {...}}) into the item's attribute values.
func DecodeExportItem(line []byte) (map[string]types.AttributeValue, error) {
	var l struct {
		Item map[string]json.RawMessage `json:"Item"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, fmt.Errorf("decode export line: %w", err)
	}
	if l.Item == nil {
		return nil, fmt.Errorf("export line has no Item")
	}
	out := make(map[string]types.AttributeValue, len(l.Item))
	for name, raw := range l.Item {
		v, err := decodeValue(raw)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// decodeValue reads one DynamoDB JSON value ({"S": "x"}, {"M": {...}}, ...).
func decodeValue(raw json.RawMessage) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &typed); err != nil {
		return nil, err
	}
	if len(typed) != 1 {
		return nil, fmt.Errorf("want one type key, got %d", len(typed))
	}
	for t, v := range typed {
		switch t {
		case "S":
			var x string
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberS{Value: x}, err
		case "N":
			var x string
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberN{Value: x}, err
		case "B":
			var x []byte // base64 in JSON
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberB{Value: x}, err
		case "BOOL":
			var x bool
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberBOOL{Value: x}, err
		case "NULL":
			var x bool
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberNULL{Value: x}, err
		case "SS":
			var x []string
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberSS{Value: x}, err
		case "NS":
			var x []string
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberNS{Value: x}, err
		case "BS":
			var x [][]byte
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberBS{Value: x}, err
		case "L":
			var raws []json.RawMessage
			if err := json.Unmarshal(v, &raws); err != nil {
				return nil, err
			}
			l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, len(raws))}
			for i, r := range raws {
				e, err := decodeValue(r)
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				l.Value[i] = e
			}
			return l, nil
		case "M":
			var raws map[string]json.RawMessage
			if err := json.Unmarshal(v, &raws); err != nil {
				return nil, err
			}
			m := &types.AttributeValueMemberM{Value: make(map[string]types.AttributeValue, len(raws))}
			for name, r := range raws {
				e, err := decodeValue(r)
				if err != nil {
					return nil, fmt.Errorf(".%s: %w", name, err)
				}
				m.Value[name] = e
			}
			return m, nil
		default:
			return nil, fmt.Errorf("unknown type %q", t)
		}
	}
	return nil, nil // unreachable: one key
}

// CanonicalItem writes an item in one canonical text form, for comparing
// items: attributes in name order, set members sorted (DynamoDB keeps
// sets unordered). Two items are equal when their forms are.
func CanonicalItem(item map[string]types.AttributeValue) string {
	var b strings.Builder
	writeCanonical(&b, &types.AttributeValueMemberM{Value: item})
	return b.String()
}

func writeCanonical(b *strings.Builder, v types.AttributeValue) {
	set := func(tag string, members []string) {
		members = append([]string(nil), members...)
		sort.Strings(members)
		b.WriteString("{" + tag + ":[")
		for i, m := range members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(m))
		}
		b.WriteString("]}")
	}
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		b.WriteString("{S:" + strconv.Quote(x.Value) + "}")
	case *types.AttributeValueMemberN:
		b.WriteString("{N:" + x.Value + "}")
	case *types.AttributeValueMemberB:
		b.WriteString("{B:" + base64.StdEncoding.EncodeToString(x.Value) + "}")
	case *types.AttributeValueMemberBOOL:
		b.WriteString("{BOOL:" + strconv.FormatBool(x.Value) + "}")
	case *types.AttributeValueMemberNULL:
		b.WriteString("{NULL}")
	case *types.AttributeValueMemberSS:
		set("SS", x.Value)
	case *types.AttributeValueMemberNS:
		set("NS", x.Value)
	case *types.AttributeValueMemberBS:
		enc := make([]string, len(x.Value))
		for i, m := range x.Value {
			enc[i] = base64.StdEncoding.EncodeToString(m)
		}
		set("BS", enc)
	case *types.AttributeValueMemberL:
		b.WriteString("{L:[")
		for i, e := range x.Value {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteString("]}")
	case *types.AttributeValueMemberM:
		names := make([]string, 0, len(x.Value))
		for n := range x.Value {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString("{M:{")
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(n) + ":")
			writeCanonical(b, x.Value[n])
		}
		b.WriteString("}}")
	default:
		fmt.Fprintf(b, "{?%T}", v)
	}
}
