package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/api"
)

func frameOf(name string, doc string) string {
	return string(api.AppendStagedFrame(nil, name, []byte(doc))) + doc + "\n"
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestStagedPartRoundTrip: frames give back each document byte for byte,
// with its digest, in order; StagedFrameSize is the size of a frame.
func TestStagedPartRoundTrip(t *testing.T) {
	docs := [][2]string{{"root/001", `{"a":1}`}, {"targets", "{}\n\n"}, {"bins-0", ""}, {"x", strings.Repeat("é", 1000)}}
	var body string
	for _, d := range docs {
		f := frameOf(d[0], d[1])
		if n := api.StagedFrameSize(d[0], len(d[1])); n != int64(len(f)) {
			t.Errorf("StagedFrameSize(%s, %d) = %d, the frame has %d bytes", d[0], len(d[1]), n, len(f))
		}
		body += f
	}
	i := 0
	err := api.ParseStagedPart([]byte(body), func(name, sum string, doc []byte) error {
		if name != docs[i][0] || string(doc) != docs[i][1] || sum != digest(docs[i][1]) {
			t.Errorf("frame %d: %s %s %q", i+1, name, sum, doc)
		}
		i++
		return nil
	})
	if err != nil || i != len(docs) {
		t.Fatalf("%d frames, %v", i, err)
	}
}

// TestStagedPartRefused: malformed frames, and frames whose header lies
// about the document, are refused with the reason.
func TestStagedPartRefused(t *testing.T) {
	doc := `{"signed":{}}`
	sum := digest(doc)
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "", "no frames"},
		{"no header line", doc, "no header line"},
		{"long header", strings.Repeat("a", 2000) + " 1 " + sum + "\nx\n", "no header line"},
		{"two fields", "targets 13\n" + doc + "\n", "want NAME LENGTH SHA256"},
		{"four fields", fmt.Sprintf("targets 13 %s x\n%s\n", sum, doc), "want NAME LENGTH SHA256"},
		{"empty name", fmt.Sprintf(" 13 %s\n%s\n", sum, doc), "want NAME LENGTH SHA256"},
		{"control byte in name", fmt.Sprintf("tar\tgets 13 %s\n%s\n", sum, doc), "byte 0x09"},
		{"negative length", fmt.Sprintf("targets -13 %s\n%s\n", sum, doc), "not a decimal number"},
		{"leading zero", fmt.Sprintf("targets 013 %s\n%s\n", sum, doc), "not a decimal number"},
		{"huge length", fmt.Sprintf("targets 99999999999999999999999 %s\n%s\n", sum, doc), "not a decimal number"},
		{"upper-case digest", fmt.Sprintf("targets 13 %s\n%s\n", strings.ToUpper(sum), doc), "not 64 lower-case hex"},
		{"short digest", fmt.Sprintf("targets 13 %s\n%s\n", sum[:60], doc), "not 64 lower-case hex"},
		{"length beyond the body", fmt.Sprintf("targets 14 %s\n%s\n", sum, doc), "says 14 bytes"},
		{"length short of the document", fmt.Sprintf("targets 12 %s\n%s\n", digest(doc[:12]), doc), "says 12 bytes"},
		{"no newline after the document", fmt.Sprintf("targets 13 %s\n%s", sum, doc), "says 13 bytes"},
		{"digest of other bytes", fmt.Sprintf("targets 13 %s\n%s\n", digest("x"), doc), "have SHA-256"},
		{"a name twice", frameOf("targets", doc) + frameOf("targets", doc), "given twice"},
		{"garbage after a good frame", frameOf("targets", doc) + "junk", "frame 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := api.ParseStagedPart([]byte(tc.body), func(string, string, []byte) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want an error with %q", err, tc.want)
			}
		})
	}
}

// FuzzParseStagedPart: a part body from the network either is refused or
// is exactly its frames, each document's digest the one given and every
// name once, so that nothing in it goes unchecked or is read twice.
func FuzzParseStagedPart(f *testing.F) {
	f.Add(frameOf("root/001", `{"a":1}`) + frameOf("targets", "{}"))
	f.Add(frameOf("bins-0", ""))
	f.Add("x 3 " + digest("abc") + "\nabcd")
	f.Add("x 03 " + digest("abc") + "\nabc\n")
	f.Fuzz(func(t *testing.T, body string) {
		var again strings.Builder
		names := map[string]bool{}
		err := api.ParseStagedPart([]byte(body), func(name, sum string, doc []byte) error {
			if names[name] {
				t.Fatalf("%q given to fn twice", name)
			}
			names[name] = true
			if sum != digest(string(doc)) {
				t.Fatalf("%q: digest %s is not the document's", name, sum)
			}
			if strings.ContainsAny(name, " \n") {
				t.Fatalf("name %q has a space or newline", name)
			}
			again.WriteString(frameOf(name, string(doc)))
			return nil
		})
		if err == nil && again.String() != body {
			t.Fatalf("accepted %q, whose frames make %q", body, again.String())
		}
	})
}
