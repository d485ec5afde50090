package repo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// configFile is the name of the configuration file in a repository.
const configFile = "repo.json"

// Config is the content of DIR/repo.json.
type Config struct {
	// Format is the version of this file's format.
	Format int `json:"format"`
	// Expires is the expiry policy: how long each role's metadata stays
	// valid after it is signed. Delegated roles without an entry use
	// "targets"; bins use "bins".
	Expires map[string]Duration `json:"expires"`
	// Bins configures TAP 15 hashed bins; nil when the targets role does not
	// delegate to bins.
	Bins *BinsConfig `json:"bins,omitempty"`
	// Delegations maps every delegated role (bins excepted) to the role that
	// delegates to it.
	Delegations map[string]string `json:"delegations,omitempty"`
	// Keys says where the files of each key are, by key ID. Paths are
	// relative to the repository directory unless absolute. A key without
	// a private file, or whose file is not there (an offline key), is not
	// used for signing.
	Keys map[string]KeyRef `json:"keys"`
	// Imported maps every role imported from an outside repository (see
	// Repo.ImportDelegation) to where it came from. Imported roles keep
	// their outside signatures and are never signed here.
	Imported map[string]string `json:"imported,omitempty"`
	// Server, when set, is the metadata server this repository publishes
	// to (rampart serve): it holds the online keys marked Server in Keys
	// and signs timestamp (and snapshot, when it holds that key) itself.
	Server *ServerConfig `json:"server,omitempty"`
	// Content says where the target content is served from: ContentStored
	// (or empty, in files written before the setting existed) or
	// ContentExternal. See ContentMode.
	Content ContentMode `json:"content,omitempty"`
}

// ContentMode says where a repository's target content is served from.
type ContentMode string

const (
	// ContentStored: files added are copied into the repository's content
	// store (DIR/targets) and published with the metadata: uploaded to
	// the metadata server, or written to PUBDIR/targets.
	ContentStored ContentMode = "stored"
	// ContentExternal: the content is hosted elsewhere (a registry, a CDN,
	// a release page) and clients fetch it from there. Files added are
	// only hashed, and publishing sends or writes metadata only.
	ContentExternal ContentMode = "external"
)

// ParseContentMode reads "stored" or "external".
func ParseContentMode(s string) (ContentMode, error) {
	switch m := ContentMode(s); m {
	case ContentStored, ContentExternal:
		return m, nil
	}
	return "", fmt.Errorf("unknown content mode %q: want %q (content kept in the repository and published with the metadata) or %q (content hosted elsewhere; metadata only)", s, ContentStored, ContentExternal)
}

// ContentMode returns where the repository's target content is served from.
func (c *Config) ContentMode() ContentMode {
	if c.Content == "" {
		return ContentStored
	}
	return c.Content
}

// contentExternal reports whether the content is hosted elsewhere.
func (c *Config) contentExternal() bool { return c.Content == ContentExternal }

// ServerConfig names the metadata server and repository a repository
// publishes to.
type ServerConfig struct {
	// URL is the server's base URL, such as https://tuf.example.com.
	URL string `json:"url"`
	// GUN is the repository's name on the server, such as
	// example.com/acme/app.
	GUN string `json:"gun"`
}

// BinsConfig describes the hashed bins the targets role delegates to.
type BinsConfig struct {
	Bits   int    `json:"bits"`
	Prefix string `json:"prefix"`
}

// KeyRef locates the files of one key.
type KeyRef struct {
	Public  string `json:"public,omitempty"`
	Private string `json:"private,omitempty"`
	// Server marks an online key held by the repository's metadata
	// server (Config.Server), which signs with it; it has no files here.
	Server bool `json:"server,omitempty"`
}

// serverHeld reports whether every key in ids is held by the server, so
// that signatures missing by them are the server's to make.
func (c *Config) serverHeld(ids []string) bool {
	if c.Server == nil || len(ids) == 0 {
		return false
	}
	for _, id := range ids {
		if !c.Keys[id].Server {
			return false
		}
	}
	return true
}

// Default expiry policy.
var defaultExpires = map[string]time.Duration{
	metadata.TypeRoot:      365 * 24 * time.Hour,
	metadata.TypeTargets:   90 * 24 * time.Hour,
	metadata.TypeSnapshot:  7 * 24 * time.Hour,
	metadata.TypeTimestamp: 24 * time.Hour,
	binsPolicy:             90 * 24 * time.Hour,
}

// binsPolicy is the key of the bins' expiry and keys in the configuration.
const binsPolicy = "bins"

// Duration is a time.Duration written as "90d", "12h" or "1y".
type Duration time.Duration

// ParseDuration reads "30d", "1y", "2w" or anything time.ParseDuration
// accepts ("36h", "90m").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) > 1 {
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
		if unit != 0 {
			n, err := strconv.Atoi(s[:len(s)-1])
			if err == nil && n > 0 && n < 1000*365 {
				return time.Duration(n) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: want a positive number of days (90d), weeks (2w), years (1y) or hours (36h)", s)
	}
	return d, nil
}

// FormatDuration writes d the way ParseDuration reads it.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d%(365*day) == 0:
		return fmt.Sprintf("%dy", d/(365*day))
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatDuration(time.Duration(d)))
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = Duration(v)
	return err
}

// policyName is the name under which the expiry policy of role is kept.
func (c *Config) policyName(role string) string {
	if c.Bins != nil && c.isBin(role) {
		return binsPolicy
	}
	return role
}

// ExpiryFor returns how long role's metadata is valid after signing.
func (c *Config) ExpiryFor(role string) time.Duration {
	name := c.policyName(role)
	if d, ok := c.Expires[name]; ok {
		return time.Duration(d)
	}
	if d, ok := defaultExpires[name]; ok {
		return d
	}
	if d, ok := c.Expires[metadata.TypeTargets]; ok {
		return time.Duration(d)
	}
	return defaultExpires[metadata.TypeTargets]
}

func (c *Config) succinct() *metadata.SuccinctRoles {
	if c.Bins == nil {
		return nil
	}
	return &metadata.SuccinctRoles{BitLength: c.Bins.Bits, NamePrefix: c.Bins.Prefix, Threshold: 1}
}

func (c *Config) isBin(role string) bool {
	s := c.succinct()
	return s != nil && s.IsBin(role)
}

// checkRoleName accepts the names of delegated roles this package gives
// files to: those the server accepts, but for a ".json" suffix and the
// top-level names.
func checkRoleName(name string) error {
	if err := metadata.CheckRoleName(name); err != nil {
		return fmt.Errorf("invalid %w", err)
	}
	if strings.HasSuffix(name, ".json") {
		return fmt.Errorf("invalid role name %q: it may not end in .json", name)
	}
	if metadata.IsTopLevel(name) {
		return fmt.Errorf("%q is a top-level role and cannot be delegated to", name)
	}
	return nil
}

func readConfig(dir string) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w (no %s)", dir, ErrNotRepository, configFile)
		}
		return nil, err
	}
	c := &Config{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, configFile), err)
	}
	if c.Format != 1 {
		return nil, fmt.Errorf("%s: unsupported format %d (this rampart reads format 1)", filepath.Join(dir, configFile), c.Format)
	}
	if c.Content != "" {
		if _, err := ParseContentMode(string(c.Content)); err != nil {
			return nil, fmt.Errorf("%s: \"content\": %w", filepath.Join(dir, configFile), err)
		}
	}
	if c.Keys == nil {
		c.Keys = map[string]KeyRef{}
	}
	if c.Expires == nil {
		c.Expires = map[string]Duration{}
	}
	if c.Delegations == nil {
		c.Delegations = map[string]string{}
	}
	return c, nil
}

func (c *Config) encode() []byte {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // only plain types
	}
	return append(b, '\n')
}

func (c *Config) clone() *Config {
	n := &Config{}
	if err := json.Unmarshal(c.encode(), n); err != nil {
		panic(err)
	}
	if n.Delegations == nil {
		n.Delegations = map[string]string{}
	}
	if n.Keys == nil {
		n.Keys = map[string]KeyRef{}
	}
	if n.Expires == nil {
		n.Expires = map[string]Duration{}
	}
	return n
}
