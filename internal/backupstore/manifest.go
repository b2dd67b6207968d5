package backupstore

import (
	"fmt"
	"time"
)

// ManifestFormat is bumped when the manifest changes incompatibly. Format 2
// records DynamoDB's own per-file MD5 and S3 ETag (from the export's
// manifest-files.json) instead of a SHA-256 Lifeboat computed by downloading
// the export; format 1 manifests are still read, checked and restored.
const ManifestFormat = 2

// Manifest describes one dataset's backup. It is written last, after the data
// has been checked, so a folder without one is not a complete backup.
type Manifest struct {
	Format        int       `json:"format"`
	Tool          string    `json:"tool"`
	BackupID      string    `json:"backupId"`
	WorkflowID    string    `json:"workflowId"`
	CutTime       time.Time `json:"cutTime"`
	PausedWrites  bool      `json:"pausedWrites"`
	EnvironmentID string    `json:"environmentId"`
	StoreID       string    `json:"storeId"`
	DatasetID     string    `json:"datasetId"`
	TableName     string    `json:"tableName"`
	ExportArn     string    `json:"exportArn"`
	// ExportManifest is the key of DynamoDB's manifest-summary.json for the
	// export (format 2).
	ExportManifest string `json:"exportManifest,omitempty"`
	ItemCount      int64  `json:"itemCount"`
	Bytes          int64  `json:"bytes"`
	// DataPrefix holds exactly the data objects below, ready for ImportTable.
	DataPrefix string         `json:"dataPrefix"`
	Objects    []ObjectDigest `json:"objects"`
	// ExportFiles are DynamoDB's own files of the export (its manifests,
	// checksums and _started), beside the data folder. They are not
	// imported; they are recorded so that retention deletes them with the
	// backup. Manifests written before this field have none.
	ExportFiles []string  `json:"exportFiles,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	// StartedAt is when the backup began writing under its folder (the
	// export's start): with CreatedAt, the manifest's own write, it bounds
	// the object versions retention may delete as the backup's own.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Bucket is the bucket as checked before the backup (region,
	// versioning, Object Lock); absent in manifests before it was recorded.
	Bucket *Bucket `json:"bucket,omitempty"`
	// KMSKeyID is the KMS key the backup's objects are encrypted with.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// ObjectDigest is one exported data object: its size and item count, and
// the checksums that identify its content. Format 2 manifests carry MD5 (the
// base64 MD5 DynamoDB lists in manifest-files.json) and ETag (S3's); format
// 1 manifests carry SHA256 (hex, computed by Lifeboat).
type ObjectDigest struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Items  int64  `json:"items"`
	MD5    string `json:"md5,omitempty"`
	ETag   string `json:"etag,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Check reports the first inconsistency inside a manifest.
func (m *Manifest) Check() error {
	if m.Format != 1 && m.Format != ManifestFormat {
		return fmt.Errorf("manifest format %d is not supported (want 1 or %d)", m.Format, ManifestFormat)
	}
	if m.DatasetID == "" || m.DataPrefix == "" {
		return fmt.Errorf("manifest lacks dataset id or data prefix")
	}
	var items, size int64
	for _, o := range m.Objects {
		items += o.Items
		size += o.Size
		switch {
		case m.Format == 1 && len(o.SHA256) != 64:
			return fmt.Errorf("manifest object %s has no SHA-256", o.Key)
		case m.Format >= 2 && o.MD5 == "":
			return fmt.Errorf("manifest object %s has no MD5", o.Key)
		}
	}
	if items != m.ItemCount {
		return fmt.Errorf("manifest objects hold %d items, manifest says %d", items, m.ItemCount)
	}
	if size != m.Bytes {
		return fmt.Errorf("manifest objects hold %d bytes, manifest says %d", size, m.Bytes)
	}
	return nil
}
