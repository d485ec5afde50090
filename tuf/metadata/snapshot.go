package metadata

import (
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Snapshot is the snapshot role's document: the version (and optionally
// length and hashes) of every targets metadata file.
type Snapshot struct {
	Common
	Meta map[string]MetaFile // keyed by file name, e.g. "targets.json"
}

// NewSnapshot returns a snapshot document, version 1, listing targets.json
// at version 1.
func NewSnapshot(expires time.Time) *Snapshot {
	return &Snapshot{Common: newCommon(TypeSnapshot, expires), Meta: map[string]MetaFile{"targets.json": {Version: 1}}}
}

func (s *Snapshot) decode(r *canonjson.Reader) error {
	var seen uint32
	const seenMeta = seenOther
	var a arena
	err := r.Object(func(name []byte) error {
		if ok, err := s.Common.decodeMember(r, name, &seen); ok {
			return err
		}
		if string(name) == "meta" {
			seen |= seenMeta
			var err error
			s.Meta, err = decodeMetaMap(r, &a)
			return in("meta", err)
		}
		v, err := r.Raw()
		s.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return err
	}
	if err := s.checkCommon(TypeSnapshot, seen); err != nil {
		return err
	}
	if seen&seenMeta == 0 {
		return invalid("missing meta")
	}
	return nil
}

func (s *Snapshot) encode(w *canonjson.Writer) {
	s.Common.encode(w, []member{{"meta", func() { encodeMetaMap(w, s.Meta) }}})
}

// Validate checks a snapshot document built in memory.
func (s *Snapshot) Validate() error {
	if err := s.validateCommon(TypeSnapshot); err != nil {
		return err
	}
	for name, m := range s.Meta {
		if err := m.validate(); err != nil {
			return in("meta", inKey(name, err))
		}
	}
	return nil
}

// Timestamp is the timestamp role's document: the current snapshot.
type Timestamp struct {
	Common
	Meta map[string]MetaFile // "snapshot.json", and nothing else in TUF 1.0
}

// NewTimestamp returns a timestamp document, version 1, listing
// snapshot.json at version 1.
func NewTimestamp(expires time.Time) *Timestamp {
	return &Timestamp{Common: newCommon(TypeTimestamp, expires), Meta: map[string]MetaFile{"snapshot.json": {Version: 1}}}
}

// SnapshotMeta returns the entry for snapshot.json.
func (t *Timestamp) SnapshotMeta() MetaFile { return t.Meta["snapshot.json"] }

func (t *Timestamp) decode(r *canonjson.Reader) error {
	var seen uint32
	const seenMeta = seenOther
	var a arena
	err := r.Object(func(name []byte) error {
		if ok, err := t.Common.decodeMember(r, name, &seen); ok {
			return err
		}
		if string(name) == "meta" {
			seen |= seenMeta
			var err error
			t.Meta, err = decodeMetaMap(r, &a)
			return in("meta", err)
		}
		v, err := r.Raw()
		t.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return err
	}
	if err := t.checkCommon(TypeTimestamp, seen); err != nil {
		return err
	}
	if seen&seenMeta == 0 {
		return invalid("missing meta")
	}
	return t.validateMeta()
}

func (t *Timestamp) validateMeta() error {
	if _, ok := t.Meta["snapshot.json"]; !ok {
		return in("meta", invalid("missing snapshot.json"))
	}
	if len(t.Meta) != 1 {
		return in("meta", invalid("lists %d files, want only snapshot.json", len(t.Meta)))
	}
	return nil
}

func (t *Timestamp) encode(w *canonjson.Writer) {
	t.Common.encode(w, []member{{"meta", func() { encodeMetaMap(w, t.Meta) }}})
}

// Validate checks a timestamp document built in memory.
func (t *Timestamp) Validate() error {
	if err := t.validateCommon(TypeTimestamp); err != nil {
		return err
	}
	for name, m := range t.Meta {
		if err := m.validate(); err != nil {
			return in("meta", inKey(name, err))
		}
	}
	return t.validateMeta()
}
