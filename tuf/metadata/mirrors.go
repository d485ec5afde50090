package metadata

import (
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Mirrors is the optional mirrors role's document: where else the
// repository's metadata and targets may be downloaded from.
type Mirrors struct {
	Common
	Mirrors []Mirror
}

// Mirror is one mirror.
type Mirror struct {
	URLBase        string
	MetaPath       string
	TargetsPath    string
	MetaContent    []string // path patterns of the metadata the mirror has
	TargetsContent []string // path patterns of the targets the mirror has
	Custom         []byte   // canonical JSON, or nil
	Unknown        canonjson.Fields
}

// NewMirrors returns an empty mirrors document, version 1.
func NewMirrors(expires time.Time) *Mirrors {
	return &Mirrors{Common: newCommon(TypeMirrors, expires), Mirrors: []Mirror{}}
}

func (m *Mirrors) decode(r *canonjson.Reader) error {
	var seen uint32
	const seenMirrors = seenOther
	err := r.Object(func(name []byte) error {
		if ok, err := m.Common.decodeMember(r, name, &seen); ok {
			return err
		}
		if string(name) == "mirrors" {
			seen |= seenMirrors
			m.Mirrors = []Mirror{}
			return in("mirrors", r.Array(func() error {
				mi, err := decodeMirror(r)
				if err != nil {
					return inIndex(len(m.Mirrors), err)
				}
				m.Mirrors = append(m.Mirrors, mi)
				return nil
			}))
		}
		v, err := r.Raw()
		m.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return err
	}
	if err := m.checkCommon(TypeMirrors, seen); err != nil {
		return err
	}
	if seen&seenMirrors == 0 {
		return invalid("missing mirrors")
	}
	return nil
}

func decodeMirror(r *canonjson.Reader) (Mirror, error) {
	var mi Mirror
	var has uint8
	err := r.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "urlbase":
			has |= 1
			mi.URLBase, err = r.String()
			return in("urlbase", err)
		case "metapath":
			has |= 2
			mi.MetaPath, err = r.String()
			return in("metapath", err)
		case "targetspath":
			has |= 4
			mi.TargetsPath, err = r.String()
			return in("targetspath", err)
		case "metacontent":
			has |= 8
			mi.MetaContent, err = decodeStrings(r)
			return in("metacontent", err)
		case "targetscontent":
			has |= 16
			mi.TargetsContent, err = decodeStrings(r)
			return in("targetscontent", err)
		case "custom":
			var v []byte
			v, err = r.Raw()
			mi.Custom = append([]byte(nil), v...)
			return in("custom", err)
		}
		v, err := r.Raw()
		mi.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return mi, err
	}
	for i, f := range []string{"urlbase", "metapath", "targetspath", "metacontent", "targetscontent"} {
		if has&(1<<i) == 0 {
			return mi, invalid("missing %s", f)
		}
	}
	return mi, mi.validate()
}

// validate checks what a mirror needs beyond its members' types: parsing
// and encoding refuse the same mirrors.
func (mi *Mirror) validate() error {
	if mi.URLBase == "" {
		return in("urlbase", invalid("empty"))
	}
	return nil
}

func (m *Mirrors) encode(w *canonjson.Writer) {
	m.Common.encode(w, []member{{"mirrors", func() {
		w.BeginArray()
		for _, mi := range m.Mirrors {
			mi.encode(w)
		}
		w.EndArray()
	}}})
}

func (mi *Mirror) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := 0
	if mi.Custom != nil {
		i = w.Fields(mi.Unknown, i, "custom")
		w.Name("custom")
		w.Raw(mi.Custom)
	}
	for _, f := range []struct {
		name string
		list []string
		s    string
	}{{"metacontent", mi.MetaContent, ""}, {"metapath", nil, mi.MetaPath}, {"targetscontent", mi.TargetsContent, ""}, {"targetspath", nil, mi.TargetsPath}, {"urlbase", nil, mi.URLBase}} {
		i = w.Fields(mi.Unknown, i, f.name)
		w.Name(f.name)
		if f.name == "metacontent" || f.name == "targetscontent" {
			encodeStrings(w, f.list)
		} else {
			w.String(f.s)
		}
	}
	w.FieldsRest(mi.Unknown, i)
	w.EndObject()
}

// Validate checks a mirrors document built in memory.
func (m *Mirrors) Validate() error {
	if err := m.validateCommon(TypeMirrors); err != nil {
		return err
	}
	for i, mi := range m.Mirrors {
		if err := mi.validate(); err != nil {
			return in("mirrors", inIndex(i, err))
		}
	}
	return nil
}
