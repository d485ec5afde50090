package repo

import (
	"sync"
	"unsafe"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// placed holds the targets a transaction placed in hashed bins and has not
// inserted into their documents yet: each bin is read, completed and
// encoded when the transaction commits it (or looks at it, see
// Tx.settle). A change to every bin of a large repository places a
// million targets here, so they are kept compactly and without pointers:
// paths and digests in large byte chunks, and each target as a binTarget
// of offsets, which the garbage collector need not look into.
type placed struct {
	bins   map[string][]binTarget // by bin name
	chunks [][]byte               // paths, each followed by its SHA-256 digest
	files  []metadata.TargetFile  // descriptions beyond a length and a digest
	// spare holds the target maps of bins already written, cleared, for
	// the next bins: thousands of maps of a few hundred targets each
	// would otherwise be made and collected.
	spare sync.Pool
}

// binTarget is a target placed in a hashed bin: its path is
// chunks[chunk][off:off+plen]; a target with a length and a SHA-256 digest
// only (as from a manifest) has the digest's 32 bytes right after the
// path, any other has its description in files[file-1].
type binTarget struct {
	length           int64
	chunk, off, plen int32
	file             int32
}

// chunkSize is the size of the chunks that add fills.
const chunkSize = 256 << 10

// addChunk takes a chunk of paths and digests that binTargets of chunk 0
// refer to, and returns the chunk number to give them instead.
func (p *placed) addChunk(c []byte) int32 {
	p.chunks = append(p.chunks, c)
	return int32(len(p.chunks) - 1)
}

// add stores t and returns it as a binTarget.
func (p *placed) add(t Target) binTarget {
	f := t.File
	simple := len(f.Hashes.SHA256) == 32 && f.Hashes.SHA512 == nil && f.Custom == nil && f.Unknown == nil
	need := len(t.Path)
	if simple {
		need += 32
	}
	n := len(p.chunks)
	if n == 0 || cap(p.chunks[n-1])-len(p.chunks[n-1]) < need {
		p.addChunk(make([]byte, 0, max(chunkSize, need)))
		n++
	}
	c := p.chunks[n-1]
	b := binTarget{length: f.Length, chunk: int32(n - 1), off: int32(len(c)), plen: int32(len(t.Path))}
	c = append(c, t.Path...)
	if simple {
		c = append(c, f.Hashes.SHA256...)
	} else {
		p.files = append(p.files, f)
		b.file = int32(len(p.files))
	}
	p.chunks[n-1] = c
	return b
}

// path returns the target path of b. It shares the chunk's memory, which
// is never written again.
func (p *placed) path(b *binTarget) string {
	if b.plen == 0 {
		return ""
	}
	return unsafe.String(&p.chunks[b.chunk][b.off], b.plen)
}

// targetFile returns the description of b; its digest shares the chunk's
// memory.
func (p *placed) targetFile(b *binTarget) metadata.TargetFile {
	if b.file != 0 {
		return p.files[b.file-1]
	}
	d := b.off + b.plen
	return metadata.TargetFile{Length: b.length, Hashes: metadata.Hashes{SHA256: p.chunks[b.chunk][d : d+32 : d+32]}}
}

// place adds targets to the hashed bin role.
func (p *placed) place(role string, ts []binTarget) {
	if p.bins == nil {
		p.bins = map[string][]binTarget{}
	}
	if cur := p.bins[role]; cur != nil {
		ts = append(cur, ts...)
	}
	p.bins[role] = ts
}

// insert inserts targets placed in a bin into its document.
func (p *placed) insert(t *metadata.Targets, adds []binTarget) {
	if len(t.Targets) < len(adds) {
		m, _ := p.spare.Get().(map[string]metadata.TargetFile)
		if m == nil {
			m = make(map[string]metadata.TargetFile, len(t.Targets)+len(adds))
		}
		for k, v := range t.Targets {
			m[k] = v
		}
		t.Targets = m
	}
	for i := range adds {
		t.Targets[p.path(&adds[i])] = p.targetFile(&adds[i])
	}
}

// recycle takes the target map of a bin that is written and no longer
// used.
func (p *placed) recycle(m map[string]metadata.TargetFile) {
	clear(m)
	p.spare.Put(m)
}
