package repo

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// bigManifest is a manifest of several blocks (maxManifestLine bytes
// each), with comments, empty lines, CRLF endings, paths listed twice and
// a last line without its line ending.
func bigManifest(lines int) string {
	var b strings.Builder
	for i := range lines {
		switch {
		case i%1000 == 7:
			b.WriteString("# a comment\n\n")
		case i%997 == 3:
			// Listed again further on with another length: the last wins.
			fmt.Fprintf(&b, "dup/%d\t1\t%064x\r\n", i, i)
		}
		fmt.Fprintf(&b, "pkg/d%s/p%06d.tgz\t%d\t%064x\n", strings.Repeat("d", i%50), i, i*3, i)
		if i%997 == 500 {
			fmt.Fprintf(&b, "dup/%d\t2\t%064x\n", i-497, i)
		}
	}
	fmt.Fprintf(&b, "last\t9\t%064x", 9)
	return b.String()
}

// TestManifestBinsMatchesLineByLine: the blocks of a manifest parsed in
// parallel place the same targets in the same bins, in the same order, as
// reading its lines one by one.
func TestManifestBinsMatchesLineByLine(t *testing.T) {
	defer func(m int) { binChunkMax = m }(binChunkMax)
	// The paths and digests grouped by bin in one chunk, in several, and
	// left in the blocks' chunks (a bin larger than a chunk).
	for _, max := range []int{binChunkMax, 200_000, 10_000} {
		binChunkMax = max
		t.Run(fmt.Sprint(max), testManifestBinsMatchesLineByLine)
	}
}

func testManifestBinsMatchesLineByLine(t *testing.T) {
	m := bigManifest(40_000)
	if len(m) < 3*maxManifestLine {
		t.Fatalf("manifest of %d bytes: want several blocks", len(m))
	}
	s := &metadata.SuccinctRoles{BitLength: 5, NamePrefix: "bins"}
	want := make([][]Target, s.NumBins())
	err := scanManifest(strings.NewReader(m), nil, func(tg Target) error {
		i := s.BinFor(tg.Path)
		want[i] = append(want[i], tg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var p placed
	read := 0
	bins, count, err := manifestBins(iotest.HalfReader(strings.NewReader(m)), s, &p, func(n int) { read += n })
	if err != nil {
		t.Fatal(err)
	}
	if read != len(m) {
		t.Errorf("progress counted %d bytes, want %d", read, len(m))
	}
	if binChunkMax >= len(m) && len(p.chunks) != 1 {
		t.Errorf("the paths and digests are in %d chunks, want 1", len(p.chunks))
	}
	total := 0
	for i := range want {
		total += len(want[i])
		if len(bins[i]) != len(want[i]) {
			t.Fatalf("bin %d: %d targets, want %d", i, len(bins[i]), len(want[i]))
		}
		for k := range want[i] {
			w, g := want[i][k], &bins[i][k]
			tf := p.targetFile(g)
			if p.path(g) != w.Path || tf.Length != w.File.Length || !tf.Hashes.Equal(w.File.Hashes) {
				t.Fatalf("bin %d, target %d: %s %d %x, want %s %d %x", i, k, p.path(g), tf.Length, tf.Hashes.SHA256, w.Path, w.File.Length, w.File.Hashes.SHA256)
			}
		}
	}
	if count != total {
		t.Errorf("count %d, want %d", count, total)
	}
}

// TestManifestBinsErrors: an error in any block names the line of the
// whole manifest, as reading it line by line does, and a read error is
// returned.
func TestManifestBinsErrors(t *testing.T) {
	good := bigManifest(30_000)
	good = good[:strings.LastIndexByte(good, '\n')+1]
	lines := strings.Count(good, "\n")
	sum := strings.Repeat("0", 64)
	s := &metadata.SuccinctRoles{BitLength: 3, NamePrefix: "bins"}
	for _, tc := range []struct{ name, in, want string }{
		{"bad length", good + "a\tx\t" + sum + "\n", fmt.Sprintf("manifest line %d: length", lines+1)},
		{"bad path", good + "ok\t1\t" + sum + "\n/abs\t1\t" + sum + "\n", fmt.Sprintf("manifest line %d: invalid target path", lines+2)},
		{"no tabs", "x\n" + good, "manifest line 1: want TARGETPATH<TAB>LENGTH<TAB>SHA256HEX"},
		{"long line", good + strings.Repeat("a", maxManifestLine) + "\t1\t" + sum + "\n", fmt.Sprintf("manifest line %d is longer than 1 MiB", lines+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scanManifest(strings.NewReader(tc.in), nil, func(Target) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("line by line: %v, want %q", err, tc.want)
			}
			_, _, err = manifestBins(strings.NewReader(tc.in), s, &placed{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("in blocks: %v, want %q", err, tc.want)
			}
		})
	}
	broken := errors.New("disk on fire")
	rd := io.MultiReader(strings.NewReader(good), iotest.ErrReader(broken))
	if _, _, err := manifestBins(rd, s, &placed{}, nil); !errors.Is(err, broken) {
		t.Errorf("read error: %v, want %v", err, broken)
	}
}

// TestBinRanges: the ranges cover every bin once, in order, at most n of
// them, and split even sizes evenly.
func TestBinRanges(t *testing.T) {
	for _, tc := range []struct {
		sizes []int
		n     int
		want  []int
	}{
		{[]int{5, 5, 5, 5}, 2, []int{0, 2, 4}},
		{[]int{5, 5, 5, 5}, 1, []int{0, 4}},
		{[]int{5}, 4, []int{0, 1}},
		{[]int{100, 1, 1, 1}, 2, []int{0, 1, 4}},
		{[]int{0, 0, 0}, 2, []int{0, 1, 3}},
	} {
		got := binRanges(tc.sizes, tc.n)
		if !slices.Equal(got, tc.want) {
			t.Errorf("binRanges(%v, %d) = %v, want %v", tc.sizes, tc.n, got, tc.want)
		}
	}
}
