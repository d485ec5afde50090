package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// StagedPartType is the media type of a part of a staged update sent as
// frames, which carry each document byte for byte, with no envelope to
// parse around it (docs/server-api.md, "Staged updates"). The body is a
// sequence of frames, one per document:
//
//	NAME SP LENGTH SP SHA256 LF
//	DOCUMENT (LENGTH bytes) LF
//
// NAME is a role name or StagedRootPart(i) for a root of the chain,
// LENGTH the document's length in decimal and SHA256 its lower-case hex
// SHA-256 digest, which the server checks. A server that takes this type
// lists it in StagedUpdate.PartTypes; every server takes the JSON body of
// a publish (PublishRequest).
const StagedPartType = "application/vnd.rampart.staged-part"

// maxFrameHeader bounds the header line of a frame: a role name is at
// most a few hundred bytes (metadata.MaxRoleNameLength).
const maxFrameHeader = 1024

// AppendStagedFrame appends the header of the frame of doc, named name,
// to dst. The frame is that header, doc, and a newline.
func AppendStagedFrame(dst []byte, name string, doc []byte) []byte {
	sum := sha256.Sum256(doc)
	dst = append(dst, name...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(doc)), 10)
	dst = append(dst, ' ')
	dst = hex.AppendEncode(dst, sum[:])
	return append(dst, '\n')
}

// StagedFrameSize is the size of the frame of a document of n bytes named
// name.
func StagedFrameSize(name string, n int) int64 {
	return int64(len(name)+1+len(strconv.Itoa(n))+1+64+1+n) + 1
}

// ParseStagedPart reads the frames of body (see StagedPartType) and calls
// fn with each document's name, its hex SHA-256 (checked) and its bytes (a
// slice of body), in order.
// It fails, naming the frame, on a malformed header, a length beyond the
// body, a digest that does not match the document, a name given twice and
// an empty body; it checks no name against the rules for role names.
func ParseStagedPart(body []byte, fn func(name, sha256 string, doc []byte) error) error {
	seen := map[string]bool{}
	for i := 1; len(body) > 0; i++ {
		name, sum, doc, rest, err := cutFrame(body)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if seen[name] {
			return fmt.Errorf("frame %d: %s is given twice", i, name)
		}
		seen[name] = true
		if err := fn(name, sum, doc); err != nil {
			return err
		}
		body = rest
	}
	if len(seen) == 0 {
		return fmt.Errorf("no frames: the body is empty")
	}
	return nil
}

// cutFrame reads the frame at the start of body.
func cutFrame(body []byte) (name, sum string, doc, rest []byte, err error) {
	end := bytes.IndexByte(body[:min(len(body), maxFrameHeader)], '\n')
	if end < 0 {
		return "", "", nil, nil, fmt.Errorf("no header line (NAME LENGTH SHA256) in the first %d bytes", maxFrameHeader)
	}
	fields := bytes.Split(body[:end], []byte{' '})
	if len(fields) != 3 || len(fields[0]) == 0 {
		return "", "", nil, nil, fmt.Errorf("header %q: want NAME LENGTH SHA256", body[:end])
	}
	name = string(fields[0])
	for _, c := range fields[0] {
		if c < 0x21 || c > 0x7e {
			return "", "", nil, nil, fmt.Errorf("header %q: the name has a byte 0x%02x", body[:end], c)
		}
	}
	n, err := strconv.ParseUint(string(fields[1]), 10, 63)
	if err != nil || (len(fields[1]) > 1 && fields[1][0] == '0') {
		return "", "", nil, nil, fmt.Errorf("%s: length %q is not a decimal number", name, fields[1])
	}
	want := fields[2]
	if len(want) != 64 || hex.EncodeToString(mustHex(want)) != string(want) {
		return "", "", nil, nil, fmt.Errorf("%s: digest %q is not 64 lower-case hex digits", name, want)
	}
	body = body[end+1:]
	if n >= uint64(len(body)) || body[n] != '\n' {
		return "", "", nil, nil, fmt.Errorf("%s: says %d bytes, but %d bytes and a newline do not follow", name, n, n)
	}
	doc = body[:n]
	got := sha256.Sum256(doc)
	if sum = hex.EncodeToString(got[:]); sum != string(want) {
		return "", "", nil, nil, fmt.Errorf("%s: the %d bytes have SHA-256 %s, not %s", name, n, sum, want)
	}
	return name, sum, doc, body[n+1:], nil
}

// mustHex decodes hex digits, or returns nil.
func mustHex(b []byte) []byte {
	out, err := hex.DecodeString(string(b))
	if err != nil {
		return nil
	}
	return out
}
