package web_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // these two write a row as an older reelvault left it
	_ "github.com/mattn/go-sqlite3"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/web"
)

// nested is a JSON reply of depth objects, each under key.
func nested(depth int, key string) string {
	return strings.Repeat(`{"`+key+`":`, depth) + `"end"` + strings.Repeat("}", depth)
}

// Catalogs written before the archiver capped what it keeps hold replies of
// thousands of nested objects; indented, such a reply was 162 MB of HTML.
// The task page shows a bounded part and says so; the table loads none.
func TestTaskPageBoundsAHostileStoredReply(t *testing.T) {
	for _, tc := range []struct {
		name, raw, note string
	}{
		{"the 54 KB reply of 9,000 objects", nested(9000, "a"), "not indented"},
		{"a 9,000-deep reply over the limit", nested(9000, "nested"), "truncated"},
		{"a flat reply that grows when indented", `[` + strings.Repeat(`1,`, 40000) + `1]`, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.add(t, catalog.Task{TaskID: "task_deep", Status: "SUCCESS", FinishTime: day1.Unix()}, "a deep reply", nil)
			// Behind the catalog's back, as an older reelvault wrote it.
			driver, update := "sqlite3", `UPDATE tasks SET raw_reply = ?, request_params = ? WHERE task_id = 'task_deep'`
			if f.cat.Postgres() {
				driver, update = "pgx", `UPDATE tasks SET raw_reply = $1, request_params = $2 WHERE task_id = 'task_deep'`
			}
			db, err := sql.Open(driver, f.where)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(t.Context(), update, tc.raw, tc.raw); err != nil {
				t.Fatal(err)
			}
			srv := f.serve(t, web.Options{})

			resp, page := get(t, nil, srv.URL+"/tasks/task_deep")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /tasks/task_deep: %s", resp.Status)
			}
			if len(page) > 256<<10 {
				t.Errorf("task page is %d bytes for a %d-byte stored reply; want under 256 KiB", len(page), len(tc.raw))
			}
			if got := strings.Count(page, tc.note); got < 2 {
				t.Errorf("task page says %q %d times; want it said of the reply and of the request", tc.note, got)
			}
			if !strings.Contains(page, "a deep reply") {
				t.Error("the task page lost its prompt")
			}
			resp, page = get(t, nil, srv.URL+"/")
			if resp.StatusCode != http.StatusOK || len(page) > 64<<10 || !sameIDs(rows(page), "task_deep") {
				t.Errorf("GET /: %s, %d bytes, rows %v; want the task listed in a small page", resp.Status, len(page), rows(page))
			}
		})
	}
}

// A prompt may be up to a megabyte (the intake and the proxy read that
// much); the table, a hundred rows a page, shows a bounded part of each.
func TestTableBoundsLongPrompts(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("a lighthouse in a storm ", 20000) // 480 KB
	for _, id := range []string{"task_long1", "task_long2", "task_long3"} {
		f.add(t, catalog.Task{TaskID: id, Status: "SUCCESS", FinishTime: day1.Unix()}, long, nil)
	}
	srv := f.serve(t, web.Options{})
	resp, page := get(t, nil, srv.URL+"/")
	if resp.StatusCode != http.StatusOK || len(rows(page)) != 3 {
		t.Fatalf("GET /: %s, rows %v", resp.Status, rows(page))
	}
	if len(page) > 64<<10 {
		t.Errorf("the table of 3 tasks is %d bytes; want each prompt cut, under 64 KiB in all", len(page))
	}
}
