package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// video streams one archived video from storage: with Range support (seeking
// in the player) when the driver's reader can seek (fs, minio), else as a
// plain 200 stream (s3). With pre-signing configured it redirects to the
// bucket instead.
func (h *handler) video(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, kind := r.PathValue("id"), r.PathValue("kind")
	t, err := h.cat.Get(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		http.Error(w, "reelvault: no task "+id+" in the catalog", http.StatusNotFound)
		return
	}
	if err != nil {
		h.log.Error("read task for video", "task_id", id, "kind", kind, "err", err)
		http.Error(w, "reelvault: cannot read the catalog", http.StatusInternalServerError)
		return
	}
	var asset *catalog.Asset
	for i := range t.Assets {
		if t.Assets[i].Kind == kind {
			asset = &t.Assets[i]
		}
	}
	if asset == nil || asset.State != catalog.AssetArchived || asset.Key == "" {
		http.Error(w, fmt.Sprintf("reelvault: task %s has no archived %s video", id, kind), http.StatusNotFound)
		return
	}
	if ps, ok := h.store.(storage.Presigner); ok && h.opts.PresignTTL > 0 {
		u, err := ps.Presign(ctx, asset.Key, h.opts.PresignTTL)
		if err != nil {
			h.log.Error("presign video", "task_id", id, "kind", kind, "err", err)
			http.Error(w, "reelvault: cannot sign a URL for this video", http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	info, err := h.store.Stat(ctx, asset.Key)
	if err == nil {
		var body io.ReadCloser
		if body, err = h.store.Open(ctx, asset.Key); err == nil {
			defer body.Close()
			h.serveVideo(w, r, info, body)
			return
		}
	}
	status := http.StatusBadGateway
	if errors.Is(err, storage.ErrNotExist) {
		status = http.StatusNotFound
	}
	h.log.Error("open archived video", "task_id", id, "kind", kind, "key", asset.Key, "err", err)
	http.Error(w, fmt.Sprintf("reelvault: the archived %s video of %s cannot be read from storage", kind, id), status)
}

func (h *handler) serveVideo(w http.ResponseWriter, r *http.Request, info storage.ObjectInfo, body io.Reader) {
	hdr := w.Header()
	ct := info.ContentType
	if ct == "" || ct == "application/octet-stream" {
		ct = "video/mp4"
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": path.Base(info.Key)}))
	if info.ContentDisposition != "" {
		hdr.Set("Content-Disposition", info.ContentDisposition)
	}
	hdr.Set("Cache-Control", "private, max-age=3600")
	if rs, ok := body.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", info.ModTime, rs)
		return
	}
	hdr.Set("Accept-Ranges", "none")
	hdr.Set("Content-Length", fmt.Sprint(info.Size))
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, body); err != nil && r.Context().Err() == nil {
		h.log.Warn("stream video", "key", info.Key, "err", err)
	}
}
