package notary

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

func parseSignatures(raw []byte) ([]Signature, error) {
	r, err := canonjson.NewDecoder(raw)
	if err != nil {
		return nil, malformed("signatures", "%v", err)
	}
	var sigs []Signature
	err = r.Array(func() error {
		path := "signatures[" + strconv.Itoa(len(sigs)) + "]"
		if len(sigs) == maxSignatures {
			return malformed("signatures", "more than %d signatures", maxSignatures)
		}
		var s Signature
		var seen [3]bool
		err := r.Object(func(name []byte) error {
			var err error
			switch string(name) {
			case "keyid":
				seen[0] = true
				if s.KeyID, err = r.String(); err == nil && !isKeyID(s.KeyID) {
					return malformed(path+".keyid", "%q is not 64 lower case hex digits", short(s.KeyID))
				}
			case "method":
				seen[1] = true
				if s.Method, err = r.String(); err == nil {
					s.Method = lower(s.Method)
				}
			case "sig":
				seen[2] = true
				s.Sig, err = readBase64(r, maxSignatureLength)
			}
			if err != nil {
				return malformed(path+"."+string(name), "%v", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, name := range []string{"keyid", "method", "sig"} {
			if !seen[i] {
				return malformed(path+"."+name, "missing")
			}
		}
		sigs = append(sigs, s)
		return nil
	})
	if err != nil {
		if _, ok := err.(*Error); ok {
			return nil, err
		}
		return nil, malformed("signatures", "%v", err)
	}
	return sigs, nil
}

// parseSigned reads d.Signed into the role of its "_type".
func (d *Document) parseSigned() error {
	r, err := canonjson.NewDecoder(d.Signed)
	if err != nil {
		return malformed("signed", "%v", err)
	}
	typ, err := peekType(r)
	if err != nil {
		return err
	}
	d.Type = typ
	c := common{r: r}
	switch typ {
	case TypeRoot:
		d.Root = new(Root)
		err = c.object(d.Root.member)
	case TypeTargets:
		d.Targets = new(Targets)
		err = c.object(d.Targets.member)
	case TypeSnapshot:
		d.Snapshot = new(Snapshot)
		err = c.object(d.Snapshot.member)
	case TypeTimestamp:
		d.Timestamp = new(Timestamp)
		err = c.object(d.Timestamp.member)
	default:
		return malformed("signed._type", "unknown type %q", short(typ))
	}
	if err != nil {
		return err
	}
	d.Version, d.Expires = c.version, c.expires
	return d.check()
}

// peekType returns the "_type" of the object r is at, leaving r where it was.
func peekType(r *canonjson.Reader) (string, error) {
	start := r.Offset()
	defer r.Seek(start)
	typ := ""
	err := r.Object(func(name []byte) error {
		if string(name) != "_type" {
			return nil
		}
		var err error
		typ, err = r.String()
		return err
	})
	if err != nil {
		return "", malformed("signed", "%v", err)
	}
	if typ == "" {
		return "", malformed("signed._type", "missing")
	}
	return typ, nil
}

// common reads the members every role has and hands the others to a role.
type common struct {
	r       *canonjson.Reader
	version int64
	expires time.Time
	sawV    bool
	sawE    bool
}

func (c *common) object(member func(r *canonjson.Reader, name string) error) error {
	err := c.r.Object(func(name []byte) error {
		n := string(name)
		path := "signed." + n
		switch n {
		case "_type":
			return nil
		case "version":
			c.sawV = true
			v, err := c.r.Int()
			if err != nil {
				return malformed(path, "%v", err)
			}
			if v < 1 {
				return malformed(path, "%d is less than 1", v)
			}
			c.version = v
			return nil
		case "expires":
			c.sawE = true
			s, err := c.r.String()
			if err != nil {
				return malformed(path, "%v", err)
			}
			if c.expires, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return malformed(path, "%q is not an RFC 3339 time", short(s))
			}
			return nil
		}
		err := member(c.r, n)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				err = malformed(path, "%v", err)
			}
		}
		return err
	})
	if err != nil {
		if _, ok := err.(*Error); !ok {
			err = malformed("signed", "%v", err)
		}
		return err
	}
	switch {
	case !c.sawV:
		return malformed("signed.version", "missing")
	case !c.sawE:
		return malformed("signed.expires", "missing")
	}
	return nil
}

// readBase64 reads a standard base64 string of at most max decoded bytes.
func readBase64(r *canonjson.Reader, max int) ([]byte, error) {
	s, err := r.Bytes()
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max+2 {
		return nil, malformed("", "base64 value of %d characters is longer than the limit of %d bytes", len(s), max)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, malformed("", "not standard base64")
	}
	if n > max {
		return nil, malformed("", "%d bytes, more than the limit of %d", n, max)
	}
	return out[:n], nil
}

func isKeyID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
