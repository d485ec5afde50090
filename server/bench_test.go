package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// BenchmarkPublish measures publishing a new targets version to one
// repository, through HTTP on loopback, with the server validating it and
// signing snapshot and timestamp with its online keys, on the embedded store
// and on PostgreSQL. ns/op is the publish latency; publishes per second is
// its inverse at one publisher.
//
//	go test -run '^$' -bench Publish ./server/
func BenchmarkPublish(b *testing.B) {
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			ts := newServer(b, openStore(b, kind))
			m := newMaintainer(b, ts, "example.com/bench/app")
			root := servertest.Sign(b, m.RootDoc(1), m.Root)
			version := int64(1)
			m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(b, m.TargetsDoc(version, map[string]string{"a": "a"}), m.Targets)})
			start := time.Now()
			for b.Loop() {
				version++
				doc := servertest.Sign(b, m.TargetsDoc(version, map[string]string{"a": "a", fmt.Sprintf("f%d", version): "x"}), m.Targets)
				m.MustPublish(map[string][]byte{"targets": doc})
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "publishes/s")
		})
	}
}

// BenchmarkStagedCommit measures the commit of a staged first publish of
// 4096 hashed bins listing 100,000 targets, uploaded in parts of about
// 1 MiB beforehand (outside the timing, reported as upload-ms), on the
// embedded store and on PostgreSQL. ns/op is the commit: the check of the
// whole update, signing and the store's transaction.
//
//	go test -run '^$' -bench StagedCommit -benchtime 3x ./server/
func BenchmarkStagedCommit(b *testing.B) {
	const bits, targets = 12, 100000
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			ts := newServer(b, openStore(b, kind))
			first := newMaintainer(b, ts, "example.com/bench/staged-0")
			r := newBinsRepo(b, first, bits, targets)
			c := apiClient(b, ts.URL, first.Token)
			ctx := context.Background()
			var upload time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				start := time.Now()
				m := first
				if i > 0 {
					m = newMaintainer(b, ts, fmt.Sprintf("example.com/bench/staged-%d", i))
					m.Root, m.Targets, m.Delegate = first.Root, first.Targets, first.Delegate
					tg := m.TargetsDoc(1, nil)
					k := metadata.NewKey(m.Delegate.PublicKey())
					tg.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{k.ID(): k},
						Succinct: &metadata.SuccinctRoles{KeyIDs: []string{k.ID()}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}}
					r.root, r.targets = servertest.Sign(b, m.RootDoc(1), m.Root), servertest.Sign(b, tg, m.Targets)
				}
				i++
				st, err := c.StartStaged(ctx, m.GUN)
				must(b, err)
				uploadInPartsOf(b, c, m.GUN, st.ID, r, 1<<20)
				upload += time.Since(start)
				b.StartTimer()
				if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(upload.Milliseconds())/float64(i), "upload-ms/op")
		})
	}
}
