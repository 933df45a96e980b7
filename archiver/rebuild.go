package archiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// maxSidecarSize bounds what Rebuild reads of one task.json: a real one is a
// few KiB, and a hostile object must not exhaust memory.
const maxSidecarSize = 4 << 20

// RebuildResult counts what Rebuild did. JSON field names are stable.
type RebuildResult struct {
	Sidecars int `json:"sidecars"` // task.json objects found
	Added    int `json:"added"`    // tasks inserted into the catalog
	Existing int `json:"existing"` // already in the catalog, left alone
	// MissingVideos are videos a task.json lists as archived that the bucket
	// does not hold: they are restored as state "error".
	MissingVideos []string `json:"missing_videos"`
	// Unreadable are task.json keys that could not be read or decoded.
	Unreadable []string `json:"unreadable"`
}

// Rebuild restores a lost catalog from the bucket alone: it lists every
// object under prefix, reads each task.json sidecar and inserts its task and
// videos, checking each archived video against the listing. Tasks the
// catalog already holds are left alone, so it can also fill in a partly lost
// catalog. Failed or unfinished tasks never had a task.json and cannot come
// back. Sidecars are read by up to concurrency workers.
func Rebuild(ctx context.Context, cat *catalog.DB, store storage.Store, prefix string, concurrency int,
	log *slog.Logger) (RebuildResult, error) {
	if log == nil {
		log = slog.Default()
	}
	var res RebuildResult
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	// Keys come in lexical order, so a task folder's videos (original.mp4,
	// result.mp4) are listed just before its task.json.
	dir, sizes := "", map[string]int64{}
	err := store.List(gctx, prefix, func(o storage.ObjectInfo) error {
		d, name := path.Split(o.Key)
		if d != dir {
			dir, sizes = d, map[string]int64{}
		}
		if name != "task.json" {
			sizes[o.Key] = o.Size
			return nil
		}
		key, videos := o.Key, sizes
		res.Sidecars++
		g.Go(func() error {
			added, missing, err := restoreSidecar(gctx, cat, store, key, videos)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && gctx.Err() != nil:
				return err
			case err != nil:
				log.Warn("task.json unreadable; skipped", "key", key, "err", err)
				res.Unreadable = append(res.Unreadable, key)
			case added:
				res.Added++
			default:
				res.Existing++
			}
			res.MissingVideos = append(res.MissingVideos, missing...)
			return nil
		})
		return nil
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return res, fmt.Errorf("rebuild from %s: %w", store.Location(), err)
	}
	return res, nil
}

// restoreSidecar reads one task.json and inserts its task. videos are the
// objects listed in the task's folder, key to size.
func restoreSidecar(ctx context.Context, cat *catalog.DB, store storage.Store, key string,
	videos map[string]int64) (added bool, missing []string, err error) {
	r, err := store.Open(ctx, key)
	if err != nil {
		return false, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r, maxSidecarSize+1))
	r.Close()
	if err != nil {
		return false, nil, err
	}
	if len(body) > maxSidecarSize {
		return false, nil, fmt.Errorf("larger than %d bytes", maxSidecarSize)
	}
	var sc Sidecar
	if err := json.Unmarshal(body, &sc); err != nil {
		return false, nil, fmt.Errorf("decode: %w", err)
	}
	t := sc.Archive
	if !ValidTaskID(t.TaskID) || !strings.Contains(key, "/"+t.TaskID+"/") && !strings.HasPrefix(key, t.TaskID+"/") {
		return false, nil, fmt.Errorf("task id %q does not match its folder", t.TaskID)
	}
	t.TaskJSONKey = key
	var raw bytes.Buffer
	if len(sc.GatewayReply) > 0 && json.Compact(&raw, sc.GatewayReply) == nil && raw.String() != "null" {
		t.Raw = raw.Bytes()
	}
	if len(t.RequestParams) > 0 {
		var params bytes.Buffer
		if json.Compact(&params, t.RequestParams) == nil {
			t.RequestParams = params.Bytes()
		}
	}
	// A task.json of an older reelvault dated an incomplete task's settling
	// as archived_at, and had no settled_at.
	if t.SettledAt == nil {
		t.SettledAt = t.ArchivedAt
	}
	for i := range t.Assets {
		a := &t.Assets[i]
		if a.Key != "" {
			// Where the video is, as this store names it: right also for a
			// task.json of an older reelvault, whose bucket was the store's
			// Location ("minio://name"), and for a folder that moved.
			objectAddress(store, a, a.Key)
		}
		switch a.State {
		case catalog.AssetArchived:
			size, ok := videos[a.Key]
			if !ok || size != a.Size {
				a.State, a.LastError = catalog.AssetError, fmt.Sprintf("rebuild: %s is not in the bucket with %d bytes", a.Key, a.Size)
				missing = append(missing, a.Key)
			}
		case catalog.AssetExpired, catalog.AssetError:
		default: // nothing can resume a download without its signed URL
			a.State, a.LastError = catalog.AssetError, "rebuild: was "+a.State+" when task.json was written"
		}
		if a.State != catalog.AssetArchived {
			t.ArchiveState = catalog.ArchiveIncomplete
		}
	}
	if t.ArchiveState != catalog.ArchiveArchived {
		t.ArchivedAt = nil
	}
	added, err = cat.Restore(context.WithoutCancel(ctx), t)
	return added, missing, err
}
