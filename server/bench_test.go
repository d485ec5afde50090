package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/servertest"
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
