package backupstore

import (
	"fmt"
	"time"
)

// ManifestFormat is bumped when the manifest changes incompatibly.
const ManifestFormat = 1

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
	ItemCount     int64     `json:"itemCount"`
	Bytes         int64     `json:"bytes"`
	// DataPrefix holds exactly the data objects below, ready for ImportTable.
	DataPrefix string         `json:"dataPrefix"`
	Objects    []ObjectDigest `json:"objects"`
	// ExportFiles are DynamoDB's own files of the export (its manifests,
	// checksums and _started), beside the data folder. They are not
	// imported; they are recorded so that retention deletes them with the
	// backup. Manifests written before this field have none.
	ExportFiles []string  `json:"exportFiles,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// ObjectDigest is one exported data object with its size, item count and SHA-256.
type ObjectDigest struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Items  int64  `json:"items"`
	SHA256 string `json:"sha256"`
}

// Check reports the first inconsistency inside a manifest.
func (m *Manifest) Check() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("manifest format %d is not supported (want %d)", m.Format, ManifestFormat)
	}
	if m.DatasetID == "" || m.DataPrefix == "" {
		return fmt.Errorf("manifest lacks dataset id or data prefix")
	}
	var items, size int64
	for _, o := range m.Objects {
		items += o.Items
		size += o.Size
	}
	if items != m.ItemCount {
		return fmt.Errorf("manifest objects hold %d items, manifest says %d", items, m.ItemCount)
	}
	if size != m.Bytes {
		return fmt.Errorf("manifest objects hold %d bytes, manifest says %d", size, m.Bytes)
	}
	return nil
}
