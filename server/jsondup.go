package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// checkDuplicateMembers refuses JSON in which an object has the same member
// twice, at any depth: encoding/json would keep the last one silently,
// while the signed documents inside are refused for it, and a request must
// not mean one thing to one reader and another to the next.
func checkDuplicateMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkValue(dec, "", 0); err != nil {
		return err
	}
	return nil
}

// maxJSONDepth bounds the nesting walked.
const maxJSONDepth = 512

func walkValue(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty: the decoder reports it
		}
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := t.(string)
			if seen[name] {
				return fmt.Errorf("member %q appears twice in %s", name, cmp.Or(path, "the top-level object"))
			}
			seen[name] = true
			if err := walkValue(dec, path+"."+name, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
