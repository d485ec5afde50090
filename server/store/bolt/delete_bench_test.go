package bolt

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
)

// BenchmarkDeletePrefix deletes the keys of one repository among others,
// as Delete does for a repository with many targets.
func BenchmarkDeletePrefix(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db, err := bbolt.Open(filepath.Join(b.TempDir(), "db"), 0o600, &bbolt.Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				err = db.Update(func(tx *bbolt.Tx) error {
					bk, err := tx.CreateBucket([]byte("x"))
					if err != nil {
						return err
					}
					for _, gun := range []string{"a", "b", "c"} {
						for i := range n {
							if err := bk.Put(fmt.Appendf(nil, "%s\x00%09d", gun, i), make([]byte, 40)); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var deleted int
				err = db.Update(func(tx *bbolt.Tx) (err error) {
					deleted, err = deletePrefix(tx.Bucket([]byte("x")), []byte("b\x00"))
					return err
				})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				var left int
				db.View(func(tx *bbolt.Tx) error { left = tx.Bucket([]byte("x")).Stats().KeyN; return nil })
				if left != 2*n || deleted != n {
					b.Fatalf("%d keys deleted and %d left, want %d and %d", deleted, left, n, 2*n)
				}
				db.Close()
				b.StartTimer()
			}
		})
	}
}
