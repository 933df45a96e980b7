package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// pageSize is how many tasks the table shows at once.
const pageSize = 100

// pages are the parsed templates, one set per page, each with the layout.
type pages struct {
	index, task, problem *template.Template
}

func parsePages() *pages {
	parse := func(name string) *template.Template {
		return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name))
	}
	return &pages{index: parse("index.html"), task: parse("task.html"), problem: parse("problem.html")}
}

// layoutData is what every page shows around its content.
type layoutData struct {
	Title  string
	Health []healthItem
	Page   any
}

type healthItem struct {
	Label, Value, Detail string
	Warn                 bool
}

// filterForm is the table's filter, as given in the query string.
type filterForm struct {
	Status, ArchiveState, Model, Resolution, Day, Prompt string
	Problem                                              string
}

type indexPage struct {
	Filter   filterForm
	Facets   catalog.Facets
	Tasks    []catalog.Task
	Total    int
	From, To int
	PrevURL  string
	NextURL  string
	Filtered bool
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	form := filterForm{Status: q.Get("status"), ArchiveState: q.Get("archive"), Model: q.Get("model"),
		Resolution: q.Get("res"), Day: q.Get("day"), Prompt: q.Get("prompt")}
	f := catalog.Filter{Status: form.Status, ArchiveState: form.ArchiveState, Model: form.Model,
		Resolution: form.Resolution, PromptWords: strings.Fields(form.Prompt), Limit: pageSize}
	if form.Day != "" {
		day, err := time.Parse(time.DateOnly, form.Day)
		if err != nil {
			form.Problem = fmt.Sprintf("day %q is not a date like 2026-11-29; showing every day", form.Day)
		} else {
			f.Since, f.Until = day, day.AddDate(0, 0, 1) // a UTC day of finish times
		}
	}
	f.Offset, _ = strconv.Atoi(q.Get("offset"))
	f.Offset = max(f.Offset, 0)
	tasks, err := h.cat.List(ctx, f)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "read the catalog", err)
		return
	}
	total, err := h.cat.CountMatching(ctx, f)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "read the catalog", err)
		return
	}
	facets, err := h.cat.Facets(ctx)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "read the catalog", err)
		return
	}
	p := indexPage{Filter: form, Facets: facets, Tasks: tasks, Total: total, From: f.Offset + 1, To: f.Offset + len(tasks),
		Filtered: form != filterForm{Problem: form.Problem}}
	if f.Offset > 0 {
		p.PrevURL = pageURL(q, max(f.Offset-pageSize, 0))
	}
	if f.Offset+len(tasks) < total {
		p.NextURL = pageURL(q, f.Offset+pageSize)
	}
	h.render(w, r, h.pages.index, "reelvault archive", p)
}

func pageURL(q url.Values, offset int) string {
	v := url.Values{}
	for k, vals := range q {
		v[k] = vals
	}
	v.Set("offset", strconv.Itoa(offset))
	return "/?" + v.Encode()
}

type taskPage struct {
	Task   catalog.Task
	Videos []videoView
	Params *shownJSON // the creation request, bounded (showJSON)
	Raw    *shownJSON // the gateway's last reply (signed URLs redacted), bounded
}

// videoView is one asset of the task; Src is set when it can be played.
type videoView struct {
	catalog.Asset
	Src     string
	Problem string
}

func (h *handler) task(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := h.cat.Get(ctx, r.PathValue("id"))
	if errors.Is(err, catalog.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "find task "+r.PathValue("id"), err)
		return
	}
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "read the catalog", err)
		return
	}
	p := taskPage{Task: t, Params: showJSON(t.RequestParams), Raw: showJSON(t.Raw)}
	for _, a := range t.Assets {
		v := videoView{Asset: a}
		if a.State == catalog.AssetArchived && a.Key != "" {
			v.Src, err = h.videoSrc(r, t.TaskID, a)
			if err != nil {
				v.Problem = "cannot sign a URL for this video: " + err.Error()
				h.log.Warn("presign video", "task_id", t.TaskID, "kind", a.Kind, "err", err)
			}
		}
		p.Videos = append(p.Videos, v)
	}
	h.render(w, r, h.pages.task, t.TaskID, p)
}

// videoSrc is where the page's <video> loads an archived asset from: a
// pre-signed URL when configured and the store can sign, else reelvault.
func (h *handler) videoSrc(r *http.Request, id string, a catalog.Asset) (string, error) {
	if ps, ok := h.store.(storage.Presigner); ok && h.opts.PresignTTL > 0 {
		return ps.Presign(r.Context(), a.Key, h.opts.PresignTTL)
	}
	return videoPath(id, a.Kind), nil
}

func videoPath(id, kind string) string {
	return "/tasks/" + url.PathEscape(id) + "/video/" + url.PathEscape(kind)
}

// render executes a page into a buffer first, so that a template error is a
// clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, t *template.Template, title string, page any) {
	data := layoutData{Title: title, Page: page, Health: h.health(r)}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		h.log.Error("render page", "path", r.URL.Path, "err", err)
		http.Error(w, "reelvault: cannot render this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	b.WriteTo(w)
}

type problemPage struct {
	Doing, Err string
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, doing string, err error) {
	if status >= 500 {
		h.log.Error("web view", "path", r.URL.Path, "doing", doing, "err", err)
	}
	data := layoutData{Title: "reelvault: " + http.StatusText(status), Page: problemPage{Doing: doing, Err: err.Error()}}
	var b bytes.Buffer
	if err := h.pages.problem.Execute(&b, data); err != nil {
		http.Error(w, doing+": "+err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	b.WriteTo(w)
}

// health formats the numbers at the top; a failure to read them is shown in
// their place rather than failing the page.
func (h *handler) health(r *http.Request) []healthItem {
	hl, err := h.opts.Health(r.Context())
	if err != nil {
		h.log.Warn("read health numbers", "err", err)
		return []healthItem{{Label: "health", Value: "unavailable", Detail: err.Error(), Warn: true}}
	}
	now := time.Now()
	items := []healthItem{{Label: "pending videos", Value: strconv.Itoa(hl.PendingVideos)}}
	next := healthItem{Label: "next URL expiry", Value: "none pending"}
	if !hl.NextExpiry.IsZero() {
		left := hl.NextExpiry.Sub(now)
		next.Value, next.Detail, next.Warn = relative(now, hl.NextExpiry), utc(hl.NextExpiry), left < 2*time.Hour
	}
	oldest := healthItem{Label: "oldest unarchived", Value: "none"}
	if !hl.OldestUnarchived.IsZero() {
		oldest.Value, oldest.Detail = relative(now, hl.OldestUnarchived), utc(hl.OldestUnarchived)
		oldest.Warn = now.Sub(hl.OldestUnarchived) > time.Hour
	}
	last := healthItem{Label: "last archive", Value: "never"}
	if !hl.LastArchive.IsZero() {
		last.Value, last.Detail = relative(now, hl.LastArchive), utc(hl.LastArchive)
	}
	return append(items, next, oldest, last)
}
