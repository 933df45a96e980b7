package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// errVerifyFailed ends a verify that found a missing or different object.
var errVerifyFailed = errors.New("verify found missing or different objects")

type verifyOptions struct {
	sample  string
	all     bool
	orphans bool
	format  string
}

func newVerifyCommand(gopts *globalOptions) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every archived video and task.json is still in storage, unchanged",
		Long: `Verify checks every object the catalog says is archived: it must exist, have
the size the catalog recorded, and (when the object carries sha256 metadata) that
sha256. --sample 5% also re-reads that share of the objects, picked at random, and
re-hashes them (--all = --sample 100%): only a re-read finds bytes changed in place.
--orphans lists objects under the key prefix that the catalog does not know (a run
killed between storing and recording leaves one; the next run overwrites it).

Exit code 1 when an object is missing or differs; orphans alone do not fail.
--format json prints {location, checked, reread, elsewhere, missing[], mismatched[],
orphans[] (null without --orphans), ok}; each problem has key, task_id, kind,
reason (missing, size, sha256-metadata, content) and detail. Fields are only added.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			share, err := parseShare(opts.sample)
			switch {
			case err != nil:
				return &usageError{fmt.Errorf("--sample %q: %w", opts.sample, err)}
			case opts.format != "text" && opts.format != "json":
				return &usageError{fmt.Errorf("--format %q: want text or json", opts.format)}
			case opts.all && cmd.Flags().Changed("sample") && share != 1:
				return &usageError{errors.New("--all and --sample disagree: --all re-reads every object")}
			case opts.all:
				share = 1
			}
			return runVerify(cmd.Context(), a, opts, share, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.sample, "sample", "0%", "re-read and re-hash this share of objects, e.g. 5%")
	f.BoolVar(&opts.all, "all", false, "re-read and re-hash every object (same as --sample 100%)")
	f.BoolVar(&opts.orphans, "orphans", false, "also list objects under the prefix that the catalog does not know")
	f.StringVar(&opts.format, "format", "text", "output: text or json")
	return cmd
}

// parseShare reads a percentage, "5%" or "5", as a share in [0, 1].
func parseShare(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, errors.New("want a percentage from 0% to 100%")
	}
	return v / 100, nil
}

// verifyReport is the output of verify; its JSON is stable (fields are only
// added).
type verifyReport struct {
	Location   string          `json:"location"`
	Checked    int             `json:"checked"`
	Reread     int             `json:"reread"`
	Elsewhere  int             `json:"elsewhere"` // archived to another store than the configured one: not checked
	Missing    []verifyProblem `json:"missing"`
	Mismatched []verifyProblem `json:"mismatched"`
	Orphans    []orphanObject  `json:"orphans"`
	OK         bool            `json:"ok"`
}

type verifyProblem struct {
	Key    string `json:"key"`
	TaskID string `json:"task_id"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type orphanObject struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

func runVerify(ctx context.Context, a *app, opts verifyOptions, share float64, out io.Writer) error {
	cat, store, closeVault, err := a.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer closeVault()
	objs, err := cat.StoredObjects(ctx)
	if err != nil {
		return err
	}
	rep := verifyReport{Location: store.Location(), Missing: []verifyProblem{}, Mismatched: []verifyProblem{}}
	var mine []catalog.StoredObject
	for _, o := range objs {
		if o.Location != "" && o.Location != rep.Location {
			rep.Elsewhere++
			continue
		}
		mine = append(mine, o)
	}
	reread := make([]bool, len(mine))
	// Round up, so 5% of 10 objects re-reads one; the epsilon keeps float
	// error (0.07*100 = 7.000000000000001) from adding one more.
	n := min(int(math.Ceil(share*float64(len(mine))-1e-9)), len(mine))
	for _, i := range rand.Perm(len(mine))[:n] {
		reread[i] = true
	}

	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(a.cfg.Archive.Concurrency, 1))
	for i, o := range mine {
		g.Go(func() error {
			p, err := checkObject(gctx, store, o, reread[i])
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Checked++
			if reread[i] {
				rep.Reread++
			}
			switch {
			case p == nil:
			case p.Reason == "missing":
				rep.Missing = append(rep.Missing, *p)
			default:
				rep.Mismatched = append(rep.Mismatched, *p)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("verify could not finish: %w", err)
	}
	byKey := func(a, b verifyProblem) int { return strings.Compare(a.Key, b.Key) }
	slices.SortFunc(rep.Missing, byKey)
	slices.SortFunc(rep.Mismatched, byKey)
	if opts.orphans {
		if rep.Orphans, err = findOrphans(ctx, cat, store, a.cfg.Storage.KeyPrefix(), objs); err != nil {
			return err
		}
	}
	rep.OK = len(rep.Missing) == 0 && len(rep.Mismatched) == 0
	if opts.format == "json" {
		err = writeJSON(out, rep)
	} else {
		err = writeVerifyText(out, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%w: %d missing, %d different (of %d checked in %s)",
			errVerifyFailed, len(rep.Missing), len(rep.Mismatched), rep.Checked, rep.Location)
	}
	return nil
}

// checkObject compares one object with the catalog. It returns the problem
// found, or an error when the store could not answer (after retries).
func checkObject(ctx context.Context, store storage.Store, o catalog.StoredObject, reread bool) (*verifyProblem, error) {
	problem := func(reason, format string, args ...any) *verifyProblem {
		return &verifyProblem{Key: o.Key, TaskID: o.TaskID, Kind: o.Kind, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	var info storage.ObjectInfo
	err := withRetry(ctx, func() (err error) { info, err = store.Stat(ctx, o.Key); return err })
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return problem("missing", "not in storage"), nil
	case err != nil:
		return nil, err
	case o.Size >= 0 && info.Size != o.Size:
		return problem("size", "stored object has %d bytes, the catalog recorded %d", info.Size, o.Size), nil
	case o.SHA256 != "" && info.Metadata["sha256"] != "" && !strings.EqualFold(info.Metadata["sha256"], o.SHA256):
		return problem("sha256-metadata", "object metadata says sha256 %s, the catalog recorded %s", info.Metadata["sha256"], o.SHA256), nil
	case !reread:
		return nil, nil
	}
	var sum string
	var taskID string
	err = withRetry(ctx, func() error {
		r, err := store.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer r.Close()
		if o.Kind == catalog.KindTaskJSON {
			var side struct {
				Archive struct {
					TaskID string `json:"task_id"`
				} `json:"archive"`
			}
			// A task.json is a few KiB; the cap only guards against a
			// stranger's huge object under its key.
			if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&side); err != nil {
				taskID = "" // not a task.json at all
				return nil
			}
			taskID = side.Archive.TaskID
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return fmt.Errorf("read %s: %w", o.Key, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return problem("missing", "not in storage"), nil
	case err != nil:
		return nil, err
	case o.Kind == catalog.KindTaskJSON && taskID == "":
		return problem("content", "not a task.json (no archive.task_id in it)"), nil
	case o.Kind == catalog.KindTaskJSON && taskID != o.TaskID:
		return problem("content", "task.json describes task %s, not %s", taskID, o.TaskID), nil
	case o.Kind != catalog.KindTaskJSON && sum != o.SHA256:
		return problem("content", "stored bytes hash to sha256 %s, the catalog recorded %s", sum, o.SHA256), nil
	}
	return nil, nil
}

// withRetry runs fn up to three times while its error looks transient, so a
// network blip does not end a long verify.
func withRetry(ctx context.Context, fn func() error) error {
	b := retry.Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; ; attempt++ {
		err := fn()
		if attempt == 3 || !retry.ShouldRetry(ctx, err) || errors.Is(err, storage.ErrNotExist) {
			return err
		}
		t := time.NewTimer(b.Delay(attempt, err))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// findOrphans lists objects under prefix that the catalog does not know.
// A run going on beside verify may store an object after the catalog was
// read: candidates are checked against a fresh read before being reported.
func findOrphans(ctx context.Context, cat *catalog.DB, store storage.Store, prefix string, known []catalog.StoredObject) ([]orphanObject, error) {
	isKnown := func(objs []catalog.StoredObject) map[string]bool {
		m := make(map[string]bool, len(objs))
		for _, o := range objs {
			m[o.Key] = true
		}
		return m
	}
	seen := isKnown(known)
	orphans := []orphanObject{}
	err := store.List(ctx, prefix, func(info storage.ObjectInfo) error {
		if !seen[info.Key] {
			orphans = append(orphans, orphanObject{Key: info.Key, Size: info.Size})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s under %q: %w", store.Location(), prefix, err)
	}
	if len(orphans) == 0 {
		return orphans, nil
	}
	fresh, err := cat.StoredObjects(ctx)
	if err != nil {
		return nil, err
	}
	seen = isKnown(fresh)
	return slices.DeleteFunc(orphans, func(o orphanObject) bool { return seen[o.Key] }), nil
}

func writeVerifyText(w io.Writer, rep verifyReport) error {
	fmt.Fprintf(w, "verify %s: %d object(s) checked, %d re-read and re-hashed\n", rep.Location, rep.Checked, rep.Reread)
	if rep.Elsewhere > 0 {
		fmt.Fprintf(w, "%d object(s) were archived to another store and not checked (configure that store to verify them)\n", rep.Elsewhere)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range rep.Missing {
		fmt.Fprintf(tw, "MISSING\t%s\ttask %s %s: %s\n", p.Key, p.TaskID, p.Kind, p.Detail)
	}
	for _, p := range rep.Mismatched {
		fmt.Fprintf(tw, "DIFFERENT\t%s\ttask %s %s: %s\n", p.Key, p.TaskID, p.Kind, p.Detail)
	}
	for _, o := range rep.Orphans {
		fmt.Fprintf(tw, "ORPHAN\t%s\t%s, not in the catalog\n", o.Key, humanBytes(o.Size))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Orphans != nil {
		fmt.Fprintf(w, "%d orphan(s) under the prefix\n", len(rep.Orphans))
	}
	if rep.OK {
		_, err := fmt.Fprintln(w, "OK: every archived object is present and matches the catalog")
		return err
	}
	_, err := fmt.Fprintf(w, "FAILED: %d missing, %d different\n", len(rep.Missing), len(rep.Mismatched))
	return err
}
