package metadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Targets is the document of the targets role or of a delegated targets
// role: the target files it vouches for and the roles it delegates to.
type Targets struct {
	Common
	// Targets lists the target files by path. It is nil in a document from
	// ParseTargetsLazy until DecodeTargets is called; use Lookup to find one
	// target either way.
	Targets     map[string]TargetFile
	Delegations *Delegations // nil when the role delegates nothing

	lazy     bool
	rawList  []byte  // the undecoded "targets" object of a lazily parsed document
	rawIndex []int32 // where each member of rawList starts, when known
}

// TargetFile describes one target file.
type TargetFile struct {
	Length  int64
	Hashes  Hashes
	Custom  []byte // the "custom" member as canonical JSON, or nil
	Unknown canonjson.Fields
}

// NewTargets returns an empty targets document, version 1.
func NewTargets(expires time.Time) *Targets {
	return &Targets{Common: newCommon(TypeTargets, expires), Targets: map[string]TargetFile{}}
}

// NewTargetFile describes content, with its sha256 digest (and its sha512
// digest when withSHA512 is set).
func NewTargetFile(content []byte, withSHA512 bool) TargetFile {
	return TargetFile{Length: int64(len(content)), Hashes: HashesOf(content, withSHA512)}
}

// Verify checks content against the length and hashes of t.
func (t TargetFile) Verify(content []byte) error {
	if int64(len(content)) != t.Length {
		return invalid("length is %d, metadata says %d", len(content), t.Length)
	}
	return t.Hashes.Verify(content)
}

// ConsistentPath returns the name under which a repository with consistent
// snapshots stores the target at targetPath: the digest prefixed to the base
// name, "dir/HASH.base". It uses the sha256 digest when there is one.
func (t TargetFile) ConsistentPath(targetPath string) string {
	digest := t.Hashes.SHA256
	if digest == nil {
		digest = t.Hashes.SHA512
	}
	dir, base := path.Split(targetPath)
	return dir + hex.EncodeToString(digest) + "." + base
}

func (t *TargetFile) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := 0
	if t.Custom != nil {
		i = w.Fields(t.Unknown, i, "custom")
		w.Name("custom")
		w.Raw(t.Custom)
	}
	i = w.Fields(t.Unknown, i, "hashes")
	w.Name("hashes")
	t.Hashes.encode(w)
	i = w.Fields(t.Unknown, i, "length")
	w.Name("length")
	w.Int(t.Length)
	w.FieldsRest(t.Unknown, i)
	w.EndObject()
}

func (t *TargetFile) validate() error {
	if t.Length < 0 {
		return in("length", invalid("length %d is negative", t.Length))
	}
	return in("hashes", t.Hashes.validate())
}

func decodeTargetFile(r *canonjson.Reader, a *arena) (TargetFile, error) {
	var t TargetFile
	hasLength, hasHashes := false, false
	if err := r.EnterObject(); err != nil {
		return t, err
	}
	for {
		name, ok, err := r.NextMember()
		if err != nil {
			return t, err
		}
		if !ok {
			break
		}
		switch string(name) {
		case "length":
			hasLength = true
			t.Length, err = r.Int()
			if err == nil && t.Length < 0 {
				err = invalid("length %d is negative", t.Length)
			}
			err = in("length", err)
		case "hashes":
			hasHashes = true
			t.Hashes, err = decodeHashes(r, a)
			err = in("hashes", err)
		case "custom":
			var v []byte
			v, err = r.Raw()
			if err == nil {
				t.Custom = a.copy(v)
			}
			err = in("custom", err)
		default:
			key := string(name)
			var v []byte
			v, err = r.Raw()
			t.Unknown.Add(key, v)
			err = inKey(key, err)
		}
		if err != nil {
			return t, err
		}
	}
	switch {
	case !hasLength:
		return t, invalid("missing length")
	case !hasHashes:
		return t, invalid("missing hashes")
	}
	return t, nil
}

// stringArena makes strings that share large blocks of memory, so that
// decoding 100,000 target paths costs a few allocations instead of 100,000.
// Blocks are never written after a string is made from them.
// Blocks grow as an arena's do.
type stringArena struct {
	block []byte
	next  int
}

func (a *stringArena) string(b []byte) string {
	if len(b) == 0 || len(b) > 1024 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, nextBlock(&a.next, len(b)))
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[start], len(b))
}

func (a *arena) copy(b []byte) []byte {
	c := a.alloc(len(b))
	copy(c, b)
	return c
}

const (
	seenTargets = seenOther << iota
	seenDelegations
)

func (t *Targets) decode(r *canonjson.Reader) error {
	var seen uint32
	var a arena
	err := r.Object(func(name []byte) error {
		if ok, err := t.Common.decodeMember(r, name, &seen); ok {
			return err
		}
		var err error
		switch string(name) {
		case "targets":
			seen |= seenTargets
			if t.lazy {
				if r.Kind() != canonjson.Object {
					return in("targets", invalid("want an object, found %s", r.Kind()))
				}
				start := r.Offset()
				if idx := r.MemberOffsets(); idx != nil {
					t.rawIndex = make([]int32, len(idx))
					for i, off := range idx {
						t.rawIndex[i] = off - int32(start)
					}
				}
				t.rawList, err = r.Raw()
				return in("targets", err)
			}
			t.Targets, err = decodeTargetMap(r, &a)
			return in("targets", err)
		case "delegations":
			seen |= seenDelegations
			t.Delegations, err = decodeDelegations(r)
			return in("delegations", err)
		}
		v, err := r.Raw()
		t.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return err
	}
	if err := t.checkCommon(TypeTargets, seen); err != nil {
		return err
	}
	if seen&seenTargets == 0 {
		return invalid("missing targets")
	}
	return nil
}

func decodeTargetMap(r *canonjson.Reader, a *arena) (map[string]TargetFile, error) {
	m := make(map[string]TargetFile, r.SizeHint())
	var paths stringArena
	if err := r.EnterObject(); err != nil {
		return nil, err
	}
	for {
		name, ok, err := r.NextMember()
		if err != nil || !ok {
			return m, err
		}
		p := paths.string(name)
		tf, err := decodeTargetFile(r, a)
		if err != nil {
			return nil, inKey(p, err)
		}
		m[p] = tf
	}
}

func (t *Targets) encode(w *canonjson.Writer) {
	var members []member
	if t.Delegations != nil {
		members = append(members, member{"delegations", func() { t.Delegations.encode(w) }})
	}
	members = append(members, member{"targets", func() {
		if t.Targets == nil && t.rawList != nil {
			w.RawCanonical(t.rawList)
			return
		}
		w.BeginObject()
		kp := targetPaths.Get().(*[]string)
		paths := slices.AppendSeq((*kp)[:0], maps.Keys(t.Targets))
		slices.Sort(paths)
		for _, p := range paths {
			w.Name(p)
			tf := t.Targets[p]
			tf.encode(w)
		}
		w.EndObject()
		clear(paths)
		*kp = paths[:0]
		targetPaths.Put(kp)
	}})
	t.Common.encode(w, members)
}

// targetPaths holds the lists of paths that encoding a Targets sorts: a
// repository encodes thousands of bins in turn.
var targetPaths = sync.Pool{New: func() any { return new([]string) }}

// encodedSize estimates the length of the document's encoding, so that the
// encoder allocates its buffer once.
func (t *Targets) encodedSize() int {
	n := len(t.rawList)
	for p, tf := range t.Targets {
		n += len(p) + len(tf.Custom) + 2*len(tf.Hashes.SHA256) + 2*len(tf.Hashes.SHA512) + 64
	}
	return n
}

// Lookup returns the target file listed at targetPath. In a lazily parsed
// document it decodes only that entry, found by scanning the canonical
// "targets" object, whose members are sorted; an entry that does not
// validate is an error.
func (t *Targets) Lookup(targetPath string) (TargetFile, bool, error) {
	if t.Targets != nil || t.rawList == nil {
		tf, ok := t.Targets[targetPath]
		return tf, ok, nil
	}
	r := canonjson.NewReader(t.rawList)
	want := []byte(targetPath)
	found := func() (TargetFile, bool, error) {
		var a arena
		tf, err := decodeTargetFile(r, &a)
		if err != nil {
			return TargetFile{}, false, docError("targets metadata", in("signed", in("targets", inKey(targetPath, err))))
		}
		return tf, true, nil
	}
	if idx := t.rawIndex; idx != nil {
		// Binary search over the sorted members.
		var searchErr error
		i, ok := slices.BinarySearchFunc(idx, want, func(off int32, want []byte) int {
			r.Seek(int(off))
			name, err := r.Name()
			if err != nil {
				searchErr = err
				return 0
			}
			return bytes.Compare(name, want)
		})
		if searchErr != nil {
			return TargetFile{}, false, searchErr
		}
		if !ok {
			return TargetFile{}, false, nil
		}
		r.Seek(int(idx[i]))
		if _, err := r.Name(); err != nil {
			return TargetFile{}, false, err
		}
		return found()
	}
	if err := r.EnterObject(); err != nil {
		return TargetFile{}, false, err
	}
	for {
		name, ok, err := r.NextMember()
		if err != nil || !ok {
			return TargetFile{}, false, err
		}
		switch c := bytes.Compare(name, want); {
		case c > 0:
			return TargetFile{}, false, nil // sorted: it is not there
		case c == 0:
			return found()
		}
	}
}

// DecodeTargets decodes the whole "targets" object of a lazily parsed
// document into Targets.
func (t *Targets) DecodeTargets() error {
	if t.Targets != nil || t.rawList == nil {
		return nil
	}
	var a arena
	m, err := decodeTargetMap(canonjson.NewReader(t.rawList), &a)
	if err != nil {
		return docError("targets metadata", in("signed", in("targets", err)))
	}
	t.Targets = m
	return nil
}

// Validate checks a targets document built in memory.
func (t *Targets) Validate() error {
	if err := t.validateCommon(TypeTargets); err != nil {
		return err
	}
	if err := t.DecodeTargets(); err != nil {
		return err
	}
	for p, tf := range t.Targets {
		if err := tf.validate(); err != nil {
			return in("targets", inKey(p, err))
		}
	}
	if t.Delegations != nil {
		return in("delegations", t.Delegations.Validate())
	}
	return nil
}

// pathHash returns the hex SHA-256 of a target path, which hash prefixes
// and hashed bins are matched against.
func pathHash(targetPath string) string {
	sum := sha256.Sum256([]byte(targetPath))
	return hex.EncodeToString(sum[:])
}

// matchPattern reports whether targetPath matches a delegation's path
// pattern. The pattern and the path are matched segment by segment, so that
// no wildcard or character class ever matches '/'; a malformed pattern
// matches nothing.
func matchPattern(pattern, targetPath string) bool {
	if strings.Count(pattern, "/") != strings.Count(targetPath, "/") {
		return false
	}
	for pattern != "" || targetPath != "" {
		var p, t string
		p, pattern, _ = strings.Cut(pattern, "/")
		t, targetPath, _ = strings.Cut(targetPath, "/")
		if ok, err := path.Match(p, t); !ok || err != nil {
			return false
		}
	}
	return true
}
