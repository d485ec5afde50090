package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/api"
)

func TestIsReserved(t *testing.T) {
	for seg, want := range map[string]bool{
		"metadata": true, "targets": true, "keys": true, "changefeed": true,
		"Metadata": false, "meta": false, "": false, "app": false, "targets.json": false,
	} {
		if got := api.IsReserved(seg); got != want {
			t.Errorf("IsReserved(%q) = %v", seg, got)
		}
	}
}

func TestValidRoleName(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 127)+"/", 2) // 256 bytes
	for name, want := range map[string]bool{
		"a": true, "bins-0f": true, "Team_1.x": true, strings.Repeat("a", 128): true,
		"targets/releases": true, "a/b/c": true, "1.x/y.z": true, long[:255]: true,
		"": false, ".": false, "..": false, "-a": false, "_a": false, "a b": false,
		strings.Repeat("a", 129): false, "é": false, "a\x00": false,
		"/x": false, "x/": false, "a//b": false, "a/../b": false, "a/./b": false, "../a": false,
		"a/..": false, "a/.b": false, "a\\b": false, "a/b\n": false, "a/%2F": false,
		"a/" + strings.Repeat("b", 129): false, long[:255] + "b": false, "root/001": false, "timestamp/x": false, "mirrors/x": false, "rootx/y": true,
	} {
		if got := api.ValidRoleName(name); got != want {
			t.Errorf("ValidRoleName(%q) = %v", name, got)
		}
	}
}

func TestValidTokenID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef": true, "0123456789ABCDEF": false, "0123456789abcde": false,
		"0123456789abcdef0": false, "0123456789abcdeg": false, "": false,
	} {
		if got := api.ValidTokenID(id); got != want {
			t.Errorf("ValidTokenID(%q) = %v", id, got)
		}
	}
}

// TestPublishResultJSON pins the field names of the wire format.
func TestPublishResultJSON(t *testing.T) {
	b, err := json.Marshal(api.PublishResult{GUN: "g", ChangeID: 1, RootVersion: 2, SnapshotVersion: 3, TimestampVersion: 4, ETag: `"e"`})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"gun":"g","change_id":1,"root_version":2,"snapshot_version":3,"timestamp_version":4,"etag":"\"e\""}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

// TestPublishRequestEncode checks that documents go into the body byte for
// byte (no compaction, no escaping of <, > and &), that the body decodes
// into the same request, and that a document that is not JSON is refused.
func TestPublishRequestEncode(t *testing.T) {
	root1 := json.RawMessage("{\n  \"signed\": {\"v\": 1}\n}")
	root2 := json.RawMessage(`{"signed":{"v":2}}`)
	targets := json.RawMessage(`{"signed": {"custom": "<a & b>"}}`)
	req := api.PublishRequest{Roots: []json.RawMessage{root1, root2}, Roles: map[string]json.RawMessage{"targets": targets, "a/b": json.RawMessage(`{}`)}}
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"roots":[` + string(root1) + `,` + string(root2) + `],"roles":{"a/b":{},"targets":` + string(targets) + `}}`
	if string(b) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", b, want)
	}
	var back api.PublishRequest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Roots) != 2 || string(back.Roots[0]) != string(root1) || string(back.Roles["targets"]) != string(targets) {
		t.Errorf("decoded %+v", back)
	}
	// Without roots the member is left out.
	if b, _ := (api.PublishRequest{Roles: map[string]json.RawMessage{"targets": targets}}).Encode(); string(b) != `{"roles":{"targets":`+string(targets)+`}}` {
		t.Errorf("Encode without roots = %s", b)
	}
	for name, bad := range map[string]api.PublishRequest{
		"root 2 of the chain":  {Roots: []json.RawMessage{root1, json.RawMessage(`{`)}},
		"the targets document": {Roles: map[string]json.RawMessage{"targets": json.RawMessage(`{"a":1} {}`)}},
	} {
		if _, err := bad.Encode(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Encode of a request with bad JSON in %s: %v", name, err)
		}
	}
}
