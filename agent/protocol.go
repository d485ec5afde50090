package agent

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Bounds of the protocol.
const (
	// MaxSignMessage is the largest message the agent signs.
	MaxSignMessage = 32 << 20
	// MaxRequest is the largest request frame (the message a sign request
	// carries follows it, raw).
	MaxRequest = 1 << 20
	// MaxResponse is the largest response frame.
	MaxResponse = 4 << 20
	// MaxKeys is the most keys an agent holds at once.
	MaxKeys = 1024
	// MaxBatch is the most messages one batch sign request carries; their
	// total length is at most MaxSignMessage.
	MaxBatch = 1024
)

// Operations.
const (
	opAdd    = "add"
	opList   = "list"
	opRemove = "remove"
	opSign   = "sign"
	// opSignBatch signs several messages with one key: the messages
	// follow the frame one after the other, their lengths in the frame.
	opSignBatch = "sign-batch"
)

// keyObject is a TUF key object.
type keyObject struct {
	KeyType string `json:"keytype"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
	Scheme string `json:"scheme"`
}

type request struct {
	Op     string   `json:"op"`
	Key    *addKey  `json:"key,omitempty"`
	KeyIDs []string `json:"key_ids,omitempty"`
	All    bool     `json:"all,omitempty"`
	KeyID  string   `json:"key_id,omitempty"`
	// MessageLength is the length of the message to sign, which follows
	// the frame as it is: a JSON string of it (in base64) would take the
	// two sides longer to write and read than the signature takes.
	MessageLength int `json:"message_length,omitempty"`
	// MessageLengths are the lengths of the messages of a batch sign
	// request, which follow the frame one after the other.
	MessageLengths []int `json:"message_lengths,omitempty"`
	// Message is the message of a sign request, read after the frame (the
	// messages of a batch, one after the other).
	Message []byte `json:"-"`
	// Messages are the messages of a batch sign request as a client sends
	// them, each from where it is (see writeRequest); the agent reads them
	// into Message.
	Messages [][]byte `json:"-"`
}

// writeRequest writes req as a frame, followed for a sign request by its
// message (or for a batch by its messages), in one gathering write: the
// messages, which may be tens of megabytes, are not copied.
func writeRequest(w io.Writer, req *request) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if len(body) > MaxRequest {
		return fmt.Errorf("agent: message of %d bytes is over the limit of %d", len(body), MaxRequest)
	}
	frame := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	frame = append(frame, body...)
	clear(body)
	bufs := make(net.Buffers, 0, 2+len(req.Messages))
	bufs = append(bufs, frame)
	if len(req.Message) > 0 {
		bufs = append(bufs, req.Message)
	}
	bufs = append(bufs, req.Messages...)
	_, err = bufs.WriteTo(w)
	clear(frame)
	return err
}

// readMessage reads the message that follows a sign request's frame, or
// the messages that follow a batch sign request's frame, into buf when it
// has room (the connection's buffer of the request before).
func readMessage(r io.Reader, req *request, buf []byte) error {
	switch req.Op {
	case opSign:
		if req.MessageLength < 1 || req.MessageLength > MaxSignMessage {
			return fmt.Errorf("agent: message length %d is out of range 1 to %d", req.MessageLength, MaxSignMessage)
		}
	case opSignBatch:
		n, err := batchLength(req.MessageLengths)
		if err != nil {
			return err
		}
		req.MessageLength = n
	default:
		return nil
	}
	if cap(buf) >= req.MessageLength {
		req.Message = buf[:req.MessageLength]
	} else {
		req.Message = make([]byte, req.MessageLength)
	}
	if _, err := io.ReadFull(r, req.Message); err != nil {
		return fmt.Errorf("agent: reading a message of %d bytes to sign: %w", req.MessageLength, err)
	}
	return nil
}

// batchLength checks the lengths of a batch's messages against the
// bounds (1 to MaxBatch messages, each of 1 byte at least, at most
// MaxSignMessage bytes in all) and returns their total.
func batchLength(lengths []int) (int, error) {
	if len(lengths) < 1 || len(lengths) > MaxBatch {
		return 0, fmt.Errorf("agent: batch of %d messages is out of range 1 to %d", len(lengths), MaxBatch)
	}
	total := 0
	for i, n := range lengths {
		if n < 1 || n > MaxSignMessage-total {
			return 0, fmt.Errorf("agent: batch message %d: length %d is out of range 1 to %d (the batch's messages are at most %d bytes in all)", i, n, MaxSignMessage-total, MaxSignMessage)
		}
		total += n
	}
	return total, nil
}

// splitBatch cuts the messages of a batch, one after the other in msgs,
// at the lengths given, which batchLength checked.
func splitBatch(msgs []byte, lengths []int) [][]byte {
	out := make([][]byte, len(lengths))
	for i, n := range lengths {
		out[i], msgs = msgs[:n:n], msgs[n:]
	}
	return out
}

// addKey is the key of an add request: PKCS8 for a key from an encrypted
// key file, PKCS11 and PIN for a key on a token.
type addKey struct {
	Public keyObject `json:"public"`
	PKCS8  []byte    `json:"pkcs8,omitempty"`
	PKCS11 []byte    `json:"pkcs11,omitempty"`
	PIN    []byte    `json:"pin,omitempty"`
	Source string    `json:"source,omitempty"`
}

type response struct {
	Error     string    `json:"error,omitempty"`
	Keys      []KeyInfo `json:"keys,omitempty"`
	Removed   int       `json:"removed,omitempty"`
	Signature []byte    `json:"signature,omitempty"`
	// Signatures answers a batch sign request, in the order of its
	// messages.
	Signatures [][]byte `json:"signatures,omitempty"`
}

// KeyInfo describes a key the agent holds.
type KeyInfo struct {
	KeyID   string    `json:"key_id"`
	Public  keyObject `json:"public"`
	Kind    string    `json:"kind"` // "file" or "pkcs11"
	Source  string    `json:"source,omitempty"`
	Expires time.Time `json:"expires"`
}

// Key kinds.
const (
	KindFile   = "file"
	KindPKCS11 = "pkcs11"
)

// writeFrame writes v as one frame of at most limit bytes.
func writeFrame(w io.Writer, v any, limit int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > limit {
		return fmt.Errorf("agent: message of %d bytes is over the limit of %d", len(body), limit)
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err = w.Write(append(buf, body...))
	clear(body)
	return err
}

// readFrame reads one frame of at most limit bytes into v, refusing
// unknown members and trailing data.
func readFrame(r io.Reader, v any, limit int) error {
	n, err := readFrameLength(r, limit)
	if err != nil {
		return err
	}
	return readFrameBody(r, n, v)
}

// readFrameLength reads the length of a frame, which must be 1 to limit.
func readFrameLength(r io.Reader, limit int) (uint32, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("agent: reading message length: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || uint64(n) > uint64(limit) {
		return 0, fmt.Errorf("agent: message length %d is out of range 1 to %d", n, limit)
	}
	return n, nil
}

// readFrameBody reads the n bytes of a frame into v, refusing unknown
// members and trailing data.
func readFrameBody(r io.Reader, n uint32, v any) error {
	body := make([]byte, n)
	defer clear(body)
	if _, err := io.ReadFull(r, body); err != nil {
		return fmt.Errorf("agent: reading message of %d bytes: %w", n, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("agent: malformed message: %w", err)
	}
	if dec.More() {
		return errors.New("agent: malformed message: data after the JSON object")
	}
	return nil
}
