package catalog

import (
	"context"
	"fmt"
)

// KindTaskJSON is the Kind of a StoredObject that is a task's task.json.
const KindTaskJSON = "task.json"

// StoredObject is an object the catalog says is in storage: an archived
// video, or a written task.json.
type StoredObject struct {
	TaskID string
	Kind   string // KindResult, KindOriginal or KindTaskJSON
	// Location is the store the object went to (storage.Store.Location);
	// "" for a task.json whose task has no archived video.
	Location string
	Key      string
	Size     int64  // -1 when the catalog does not know it (task.json)
	SHA256   string // "" when the catalog does not know it (task.json)
}

// StoredObjects returns every object the catalog says is stored, in key
// order, for `reelvault verify` to check against the store.
func (c *DB) StoredObjects(ctx context.Context) ([]StoredObject, error) {
	rows, err := c.db.QueryContext(ctx, `
		SELECT task_id, kind, location, key, size, sha256 FROM assets WHERE state='archived' AND key != ''
		UNION ALL
		SELECT t.task_id, CAST(? AS TEXT), COALESCE((SELECT a.location FROM assets a WHERE a.task_id=t.task_id AND a.state='archived'
			ORDER BY a.kind LIMIT 1), ''), t.task_json_key, -1, '' FROM tasks t WHERE t.task_json_key != ''
		ORDER BY 4, 1`, KindTaskJSON)
	if err != nil {
		return nil, fmt.Errorf("list stored objects: %w", err)
	}
	defer rows.Close()
	var out []StoredObject
	for rows.Next() {
		var o StoredObject
		if err := rows.Scan(&o.TaskID, &o.Kind, &o.Location, &o.Key, &o.Size, &o.SHA256); err != nil {
			return nil, fmt.Errorf("list stored objects: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stored objects: %w", err)
	}
	return out, nil
}
