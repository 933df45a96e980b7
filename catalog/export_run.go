package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// exportChunk is how many rowids one export worker encodes at a time: big
// enough to amortise a query, small enough that the chunks in flight stay a
// few MiB.
var exportChunk int64 = 4096

// Export writes every task in format (csv, with its header, or jsonl), in
// the order they were tracked. Workers (one per CPU, at most 4) each read
// and encode a range of rows on their own connection; the ranges are written
// in order, and only a few are ever held at once, so memory stays constant
// however large the catalog. It returns how many tasks it wrote.
func (c *DB) Export(ctx context.Context, w io.Writer, format string) (int, error) {
	if format != "csv" && format != "jsonl" {
		return 0, fmt.Errorf("export: unknown format %q: want csv or jsonl", format)
	}
	var last int64
	if err := c.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(`+c.db.d.rowid()+`), 0) FROM tasks`).Scan(&last); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if format == "csv" {
		tw, _ := newTaskWriter(w, format, true)
		if err := tw.Close(); err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	type chunk struct {
		buf  bytes.Buffer
		n    int
		err  error
		done chan struct{}
	}
	queue := make(chan *chunk, 2*workers) // chunks in output order
	var g errgroup.Group
	g.SetLimit(workers)
	go func() {
		defer close(queue)
		query := exportQuery(c.db.d, format)
		for lo := int64(1); lo <= last && ctx.Err() == nil; lo += exportChunk {
			ch := &chunk{done: make(chan struct{})}
			queue <- ch
			g.Go(func() error {
				defer close(ch.done)
				tw, _ := newTaskWriter(&ch.buf, format, false)
				ch.err = c.everyTask(ctx, query, []any{lo, lo + exportChunk}, func(t Task) error {
					ch.n++
					return tw.Write(t)
				})
				if ch.err == nil {
					ch.err = tw.Close()
				}
				return nil
			})
		}
	}()
	n := 0
	var err error
	for ch := range queue {
		<-ch.done
		if err != nil {
			continue // draining after a failure
		}
		if err = ch.err; err == nil {
			_, err = w.Write(ch.buf.Bytes())
			n += ch.n
		}
		if err != nil {
			cancel()
		}
	}
	g.Wait()
	if err != nil {
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = cerr
		}
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}
