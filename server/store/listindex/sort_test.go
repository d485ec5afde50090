package listindex

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortChunk checks sortChunk against a plain sort, for chunks sorted
// by insertion and by the library's sort, with records of the same
// listing (equal ids) of which the last must remain, and ids that share
// their first eight bytes.
func TestSortChunk(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 17, 64, 65, 300} {
		var v []byte
		for i := range n {
			var rec [RecordSize]byte
			binary.BigEndian.PutUint64(rec[:], r.Uint64N(8)) // many ties in the first 8 bytes
			rec[8] = byte(r.IntN(4))
			binary.BigEndian.PutUint64(rec[idSize:], uint64(i)) // the record's place in the input
			v = append(v, rec[:]...)
		}
		got := sortChunk(bytes.Clone(v))
		// The reference: for each id, the last record of the input.
		last := map[string][]byte{}
		for i := 0; i < len(v); i += RecordSize {
			last[string(v[i:i+idSize])] = v[i : i+RecordSize]
		}
		var want [][]byte
		for _, rec := range last {
			want = append(want, rec)
		}
		slices.SortFunc(want, func(a, b []byte) int { return bytes.Compare(a[:idSize], b[:idSize]) })
		if !bytes.Equal(got, bytes.Join(want, nil)) {
			t.Errorf("%d records: sortChunk gives %d records, not the last of each id in order (%d)", n, len(got)/RecordSize, len(want))
		}
	}
}
