package keytemplate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver/keytemplate"
)

func TestParseRejectsTemplatesThatCouldEscapeOrCollide(t *testing.T) {
	for _, tt := range []struct{ template, problem string }{
		{"", "empty"},
		{"{year}/{month}/{day}", "{task_id}"},                   // every task of a day in one folder
		{"{task_id}/{task_id}", "exactly once"},                 // ambiguous
		{"{action}{task_id}", "whole segment"},                  // "gen"+"erateX" = "generate"+"X"
		{"{year}/{task_id}-{day}", "whole segment"},             // text beside the id
		{"/{task_id}", `start with "/"`},                        // absolute
		{"{task_id}/", `end with "/"`},                          // empty last segment
		{"a//{task_id}", "empty segments"},                      // empty segment
		{"../{task_id}", `".."`},                                // escapes the prefix
		{"./{task_id}", `"."`},                                  // not a real segment
		{".hidden/{task_id}", "hidden"},                         // fs would not list it
		{"{model}/{task_id}", "unknown placeholder {model}"},    // gateway text, not allowed
		{"{year/{task_id}", "unclosed"},                         // broken brace
		{"{year}/{task_id", "unclosed"},                         // unclosed brace
		{"a b/{task_id}", "letters, digits"},                    // space
		{"x%2F/{task_id}", "letters, digits"},                   // encoded slash
		{strings.Repeat("a", 300) + "/{task_id}", "characters"}, // too long
	} {
		_, err := keytemplate.Parse(tt.template)
		if err == nil || !strings.Contains(err.Error(), tt.problem) {
			t.Errorf("Parse(%q) = %v, want an error about %q", tt.template, err, tt.problem)
		}
	}
}

func TestFolderRendersEveryPlaceholder(t *testing.T) {
	at := time.Date(2026, 4, 7, 23, 30, 0, 0, time.FixedZone("CST", 8*3600)) // 15:30 UTC
	for _, tt := range []struct{ template, action, want string }{
		{keytemplate.Default, "generate", "2026/04/07/asyntask_1"},
		{"videos/{action}/{year}-{month}/{task_id}", "referenceGenerate", "videos/referenceGenerate/2026-04/asyntask_1"},
		{"{action}/{task_id}", "../../etc/pass wd", "etcpasswd/asyntask_1"},
		{"{action}/{task_id}", "", "unknown/asyntask_1"},
		{"{task_id}", "", "asyntask_1"},
	} {
		tmpl, err := keytemplate.Parse(tt.template)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.template, err)
		}
		got, err := tmpl.Folder(keytemplate.Values{Time: at, TaskID: "asyntask_1", Action: tt.action})
		if err != nil || got != tt.want {
			t.Errorf("%q with action %q = %q, %v; want %q", tt.template, tt.action, got, err, tt.want)
		}
	}
	tmpl, _ := keytemplate.Parse(keytemplate.Default)
	for _, id := range []string{"", "a/b", "..", "a b"} {
		if got, err := tmpl.Folder(keytemplate.Values{Time: at, TaskID: id}); err == nil {
			t.Errorf("task id %q rendered as %q, want an error", id, got)
		}
	}
}
