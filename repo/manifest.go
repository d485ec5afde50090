package repo

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// A manifest lists targets whose content lives elsewhere, one a line:
// "TARGETPATH<TAB>LENGTH<TAB>SHA256HEX". Empty lines and lines starting
// with '#' are skipped; a line is at most maxManifestLine bytes long.
const maxManifestLine = 1 << 20

// manifestLine is a line of a manifest, parsed.
type manifestLine struct {
	path   []byte // in the line's memory
	length int64
	sum    [32]byte
}

// parseManifestLine parses line (with or without its line ending) into m;
// skip reports an empty line or a comment.
func parseManifestLine(line []byte, m *manifestLine) (skip bool, err error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 || line[0] == '#' {
		return true, nil
	}
	p, rest, ok1 := bytes.Cut(line, []byte{'\t'})
	l, h, ok2 := bytes.Cut(rest, []byte{'\t'})
	if !ok1 || !ok2 {
		return false, fmt.Errorf("want TARGETPATH<TAB>LENGTH<TAB>SHA256HEX")
	}
	n, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(l), len(l)), 10, 64)
	if err != nil || n < 0 {
		return false, fmt.Errorf("length %q is not a non-negative integer", l)
	}
	if len(h) != 64 {
		return false, fmt.Errorf("sha256 %q is not 64 hex digits", h)
	}
	if _, err := hex.Decode(m.sum[:], h); err != nil {
		return false, fmt.Errorf("sha256 %q is not hex", h)
	}
	if err := CheckTargetPath(unsafe.String(unsafe.SliceData(p), len(p))); err != nil {
		return false, err
	}
	m.path, m.length = p, n
	return false, nil
}

// ParseManifest reads the targets of a manifest. progress, when not nil,
// is told how many bytes were read.
func ParseManifest(rd io.Reader, progress func(n int)) ([]Target, error) {
	var out []Target
	err := scanManifest(rd, progress, func(t Target) error {
		out = append(out, t)
		return nil
	})
	return out, err
}

// scanManifest calls fn for every target of a manifest, as it reads it.
func scanManifest(rd io.Reader, progress func(n int), fn func(Target) error) error {
	br := bufio.NewReaderSize(rd, maxManifestLine)
	var hashes, paths []byte
	var m manifestLine
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return fmt.Errorf("manifest line %d is longer than 1 MiB", lineNo)
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if progress != nil {
			progress(len(line))
		}
		skip, err := parseManifestLine(line, &m)
		if err != nil {
			return fmt.Errorf("manifest line %d: %w", lineNo, err)
		}
		if skip {
			continue
		}
		// Digests and paths are carved out of large blocks: a million
		// small allocations would cost more than the rest.
		if cap(hashes)-len(hashes) < 32 {
			hashes = make([]byte, 0, 32*4096)
		}
		start := len(hashes)
		hashes = append(hashes, m.sum[:]...)
		if cap(paths)-len(paths) < len(m.path) {
			paths = make([]byte, 0, max(64<<10, len(m.path)))
		}
		ps := len(paths)
		paths = append(paths, m.path...)
		tp := unsafe.String(unsafe.SliceData(paths[ps:]), len(m.path))
		t := Target{Path: tp, File: metadata.TargetFile{Length: m.length, Hashes: metadata.Hashes{SHA256: hashes[start : start+32 : start+32]}}}
		if err := fn(t); err != nil {
			return fmt.Errorf("manifest line %d: %w", lineNo, err)
		}
	}
}

// manifestBlock is a part of a manifest, whole lines, and what parsing it
// found.
type manifestBlock struct {
	data []byte // the lines, in a buffer of maxManifestLine bytes
	size int    // len(data), which stays when data goes back to the pool
	rerr error  // an error reading the manifest after data
	done chan struct{}

	lines   int        // lines in data
	chunk   []byte     // the paths and digests of its targets (see placed)
	targets []binEntry // its targets, in the order of the lines
	err     error      // the error of line errLine (from 1) of data
	errLine int
}

// binEntry is a target placed in bin number bin.
type binEntry struct {
	bin int32
	t   binTarget
}

// manifestBins reads a manifest and places its targets in the bins of s,
// keeping their paths and digests in p. The blocks of the manifest are
// parsed (and their targets' bins found) on every processor, and put
// together in the order of the manifest: where a path is listed twice,
// the last line wins, as when the lines are read one by one.
func manifestBins(rd io.Reader, s *metadata.SuccinctRoles, p *placed, progress func(n int)) (bins [][]binTarget, count int, err error) {
	workers := runtime.GOMAXPROCS(0)
	var stop atomic.Bool
	pool := make(chan []byte, 4*workers+2)
	order := make(chan *manifestBlock, 4*workers)
	work := make(chan *manifestBlock, 4*workers)
	go readManifestBlocks(rd, pool, order, work, &stop)
	for range workers {
		go func() {
			var sl parseSlabs
			for b := range work {
				if !stop.Load() {
					b.parse(s, &sl)
				}
				select {
				case pool <- b.data[:cap(b.data)]:
				default:
				}
				b.data = nil
				close(b.done)
			}
		}()
	}
	defer func() {
		if err != nil {
			stop.Store(true)
			for b := range order { // let the reader and the workers finish
				<-b.done
			}
		}
	}()
	var blocks [][]binEntry
	var chunks [][]byte // of the blocks
	counts := make([]int, s.NumBins())
	sizes := make([]int, s.NumBins()) // bytes of paths and digests
	lines := 0
	for b := range order {
		<-b.done
		if progress != nil {
			progress(b.size)
		}
		if b.err != nil {
			return nil, 0, fmt.Errorf("manifest line %d: %w", lines+b.errLine, b.err)
		}
		if b.rerr != nil {
			if b.rerr == errLongLine {
				return nil, 0, fmt.Errorf("manifest line %d is longer than 1 MiB", lines+b.lines+1)
			}
			return nil, 0, b.rerr
		}
		lines += b.lines
		if len(b.targets) == 0 {
			continue
		}
		for i := range b.targets {
			e := &b.targets[i]
			e.t.chunk = int32(len(chunks))
			counts[e.bin]++
			sizes[e.bin] += int(e.t.plen) + 32
		}
		count += len(b.targets)
		blocks = append(blocks, b.targets)
		chunks = append(chunks, b.chunk)
	}
	return groupByBin(blocks, chunks, counts, sizes, p), count, nil
}

// binChunkMax bounds the chunks that groupByBin fills, whose offsets are
// int32 (a variable for tests).
var binChunkMax = 1 << 30

// groupByBin puts the targets of blocks, whose paths and digests are in
// chunks, together by bin: each bin's targets in one piece of one array,
// in manifest order, and their paths and digests in one piece of a chunk
// of p. Committing a bin then reads memory of its own, not a few bytes
// here and there in a hundred megabytes, each of which would be a cache
// miss.
func groupByBin(blocks [][]binEntry, chunks [][]byte, counts, sizes []int, p *placed) [][]binTarget {
	total := 0
	for _, c := range counts {
		total += c
	}
	all := hugeSlice[binTarget](total)[:total]
	bins := make([][]binTarget, len(counts))
	if slices.Max(sizes) > binChunkMax {
		// A bin too large for one chunk (hundreds of millions of targets
		// in a few bins): the paths and digests stay where they are.
		return inBlockChunks(bins, all, blocks, chunks, counts, p)
	}
	chunkOf := make([]int32, len(counts)) // of p, where each bin goes
	at := make([]int32, len(counts))      // and the offset of its next target
	off := 0
	for i := 0; i < len(counts); {
		// Bins i..j-1 share a chunk.
		n, j := 0, i
		for ; j < len(counts) && (j == i || n+sizes[j] <= binChunkMax); j++ {
			n += sizes[j]
		}
		c := p.addChunk(hugeSlice[byte](n)[:n])
		n = 0
		for ; i < j; i++ {
			bins[i] = all[off : off : off+counts[i]]
			off += counts[i]
			chunkOf[i], at[i] = c, int32(n)
			n += sizes[i]
		}
	}
	// Each processor moves the targets of a range of bins, of about the
	// same number of bytes; the memory they fill is new, and filling it
	// costs more than reading the blocks once for each range.
	ranges := binRanges(sizes, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for r := range len(ranges) - 1 {
		wg.Go(func() {
			lo, hi := int32(ranges[r]), int32(ranges[r+1])
			for k, ts := range blocks {
				src := chunks[k]
				for _, e := range ts {
					if e.bin < lo || e.bin >= hi {
						continue
					}
					n := e.t.plen + 32
					copy(p.chunks[chunkOf[e.bin]][at[e.bin]:], src[e.t.off:e.t.off+n])
					e.t.chunk, e.t.off = chunkOf[e.bin], at[e.bin]
					at[e.bin] += n
					bins[e.bin] = append(bins[e.bin], e.t)
				}
			}
		})
	}
	wg.Wait()
	clear(blocks)
	clear(chunks)
	return bins
}

// binRanges cuts the bins, of the given sizes, into at most n ranges of
// consecutive bins of about the same size: range r is bins
// ranges[r]..ranges[r+1]-1.
func binRanges(sizes []int, n int) []int {
	total := 0
	for _, s := range sizes {
		total += s
	}
	ranges := []int{0}
	sum := 0
	for i, s := range sizes {
		sum += s
		if len(ranges) < n && sum >= total/n*len(ranges) && i+1 < len(sizes) {
			ranges = append(ranges, i+1)
		}
	}
	return append(ranges, len(sizes))
}

// inBlockChunks is groupByBin without moving the paths and digests: the
// chunks of the blocks become chunks of p.
func inBlockChunks(bins [][]binTarget, all []binTarget, blocks [][]binEntry, chunks [][]byte, counts []int, p *placed) [][]binTarget {
	off := 0
	for i, c := range counts {
		bins[i] = all[off : off : off+c]
		off += c
	}
	for k, ts := range blocks {
		base := p.addChunk(chunks[k])
		for _, e := range ts {
			e.t.chunk = base
			bins[e.bin] = append(bins[e.bin], e.t)
		}
		blocks[k], chunks[k] = nil, nil
	}
	return bins
}

// errLongLine reports a manifest line over maxManifestLine bytes.
var errLongLine = fmt.Errorf("manifest line too long")

// readManifestBlocks cuts the manifest into blocks of whole lines and
// hands each to the workers and, in the same order, to the merger, until
// the end of the manifest, an error or stop.
func readManifestBlocks(rd io.Reader, pool chan []byte, order, work chan<- *manifestBlock, stop *atomic.Bool) {
	defer close(order)
	defer close(work)
	var carry []byte
	var bufs slab[byte] // the buffers, made as the pool runs short
	for !stop.Load() {
		var buf []byte
		select {
		case buf = <-pool:
		default:
			buf = bufs.take(maxManifestLine)[:maxManifestLine]
		}
		n := copy(buf, carry)
		m, err := io.ReadFull(rd, buf[n:])
		n += m
		b := &manifestBlock{data: buf[:n], done: make(chan struct{})}
		last := err == io.EOF || err == io.ErrUnexpectedEOF
		if !last {
			// Whole lines only: the rest begins the next block.
			cut := bytes.LastIndexByte(b.data, '\n')
			switch {
			case err != nil:
				b.data, b.rerr = b.data[:cut+1], err
			case cut < 0:
				b.data, b.rerr = b.data[:0], errLongLine
			default:
				carry = append(carry[:0], b.data[cut+1:]...)
				b.data = b.data[:cut+1]
			}
		}
		b.size = len(b.data)
		work <- b
		order <- b
		if last || b.rerr != nil {
			return
		}
	}
}

// parseSlabs are where a worker's blocks put their targets and chunks.
type parseSlabs struct {
	targets slab[binEntry]
	chunks  slab[byte]
}

// parse parses the lines of b, finding the bin of each target of s; the
// targets and chunk it fills are taken from sl.
func (b *manifestBlock) parse(s *metadata.SuccinctRoles, sl *parseSlabs) {
	data := b.data
	nl := bytes.Count(data, []byte{'\n'})
	b.targets = sl.targets.take(nl + 1)
	// A target's path and digest take 35 bytes less than its line (two
	// tabs, a digit and 64 hex digits against 32 bytes) and its line
	// ending, so this is room enough unless the block has many comments
	// (then append makes room).
	chunkCap := max(len(data)-36*nl, len(data)/2)
	chunk := sl.chunks.take(chunkCap)
	defer func() {
		sl.targets.give(b.targets, nl+1)
		sl.chunks.give(chunk, chunkCap)
		b.targets = b.targets[:len(b.targets):len(b.targets)]
		b.chunk = chunk[:len(chunk):len(chunk)]
	}()
	var m manifestLine
	for len(data) > 0 {
		b.lines++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		skip, err := parseManifestLine(line, &m)
		if err != nil {
			b.err, b.errLine = err, b.lines
			return
		}
		if skip {
			continue
		}
		t := binTarget{length: m.length, off: int32(len(chunk)), plen: int32(len(m.path))}
		chunk = append(append(chunk, m.path...), m.sum[:]...)
		bin := s.BinFor(unsafe.String(unsafe.SliceData(m.path), len(m.path)))
		b.targets = append(b.targets, binEntry{bin: int32(bin), t: t})
	}
}
