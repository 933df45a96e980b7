package archiver

import "context"

// OnReply makes a call fn after the gateway answered a poll and before the
// answer is recorded, with the poll's context: a test lines a reply up with
// what else happens in its batch (a rejected key cancelling it).
func OnReply(a *Archiver, fn func(ctx context.Context, id string)) { a.onReply = fn }
