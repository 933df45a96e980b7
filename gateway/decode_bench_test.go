package gateway

import "testing"

// inProgressReply is what the simulator sends for a running task: the reply
// the poller decodes most often, tens of thousands of times an hour at
// 100,000 tracked tasks.
const inProgressReply = `{"code":"success","message":"","data":{"task_id":"asyntask_Qk3x9mL2pR7vT1wZ8yB4nC6dF0gH5jK2",` +
	`"action":"generate","status":"IN_PROGRESS","fail_reason":"","submit_time":1777288507,"start_time":1777288509,` +
	`"finish_time":0,"progress":"63%","request_id":"20260427111507187625000wErxKeB6",` +
	`"data":{"id":"cgt-20260427191507-f5n97","model":"doubao-seedance-2-0-260128","duration":5,"ratio":"16:9",` +
	`"resolution":"720p","framespersecond":24,"generate_audio":false,"seed":12345,"status":"running"}}}`

// BenchmarkDecode decodes the API.md replies (testdata, copied verbatim from
// the vendor's page) and an IN_PROGRESS reply, as the poller does per poll.
func BenchmarkDecode(b *testing.B) {
	replies := []struct{ name, body string }{
		{"in_progress", inProgressReply},
		{"success_normal", string(readTestdata(b, "success_normal.json"))},
		{"success_superres", string(readTestdata(b, "success_superres.json"))},
		{"failure", string(readTestdata(b, "failure.json"))},
	}
	for _, r := range replies {
		body := []byte(r.body)
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedactReply measures the other per-poll cost on a reply: the
// catalog keeps every reply with its signed URLs redacted.
func BenchmarkRedactReply(b *testing.B) {
	replies := []struct{ name, body string }{
		{"in_progress", inProgressReply},
		{"success_superres", string(readTestdata(b, "success_superres.json"))},
	}
	for _, r := range replies {
		body := []byte(r.body)
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_ = RedactReply(body)
			}
		})
	}
}
