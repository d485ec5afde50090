package intoto

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// DownloadOptions change Download.
type DownloadOptions struct {
	Options
	// Product is the package's name among the products of the layout's
	// last step; the base name of the target path when empty.
	Product string
	// LayoutRole is the role that must list the layout and its keys, as
	// ITE-2's offline top-level targets role does; "targets" when empty.
	LayoutRole string
}

// Download downloads the target targetPath with the TUF client c and
// verifies its in-toto supply chain before writing it to dst: it fetches,
// through the same client, the layout its custom "in-toto" list names, the
// public keys the layout target's own "in-toto" list names, and the links
// listed for the package, so that every file is verified by TUF; then it
// runs Verify. The file appears at dst only once everything is verified; on
// failure nothing is left there.
func Download(ctx context.Context, c *client.Client, targetPath, dst string, opt DownloadOptions) (*Result, error) {
	if opt.Product == "" {
		opt.Product = path.Base(targetPath)
	}
	if opt.LayoutRole == "" {
		opt.LayoutRole = metadata.TypeTargets
	}
	info, err := c.Target(ctx, targetPath)
	if err != nil {
		return nil, err
	}
	paths, err := ParseCustom(info.Custom)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", targetPath, err)
	}
	layoutPath, linkPaths, err := SplitPackageList(paths)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", targetPath, err)
	}
	in := Input{Product: opt.Product, Links: map[string][]byte{}}
	if in.Layout, in.LayoutKeys, err = fetchLayout(ctx, c, layoutPath, opt.LayoutRole); err != nil {
		return nil, err
	}
	for _, p := range linkPaths {
		data, _, err := fetchSmall(ctx, c, p, MaxMetadataSize)
		if err != nil {
			return nil, err
		}
		in.Links[path.Base(p)] = data
	}
	return downloadVerified(ctx, c, info, dst, in, opt.Options)
}

// fetchLayout fetches the layout and the keys its target lists, and checks
// that role lists them all.
func fetchLayout(ctx context.Context, c *client.Client, layoutPath, role string) ([]byte, [][]byte, error) {
	layout, info, err := fetchSmall(ctx, c, layoutPath, MaxMetadataSize)
	if err != nil {
		return nil, nil, err
	}
	if info.Role != role {
		return nil, nil, fmt.Errorf("layout %s: listed by role %q, but layouts must come from %q", layoutPath, info.Role, role)
	}
	keyPaths, err := ParseCustom(info.Custom)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w: it must list the public keys that verify it", layoutPath, err)
	}
	var keys [][]byte
	for _, p := range keyPaths {
		data, kinfo, err := fetchSmall(ctx, c, p, MaxKeySize)
		if err != nil {
			return nil, nil, fmt.Errorf("layout %s: key: %w", layoutPath, err)
		}
		if kinfo.Role != role {
			return nil, nil, fmt.Errorf("layout %s: key %s is listed by role %q, but layout keys must come from %q", layoutPath, p, kinfo.Role, role)
		}
		keys = append(keys, data)
	}
	return layout, keys, nil
}

// fetchSmall looks a target up and downloads it into memory, refusing one
// that metadata says is longer than limit.
func fetchSmall(ctx context.Context, c *client.Client, targetPath string, limit int64) ([]byte, client.TargetInfo, error) {
	info, err := c.Target(ctx, targetPath)
	if err != nil {
		return nil, info, err
	}
	if info.Length > limit {
		return nil, info, fmt.Errorf("target %s: %d bytes, more than the %d accepted for in-toto metadata", targetPath, info.Length, limit)
	}
	var buf bytes.Buffer
	if err := c.Download(ctx, info, &buf); err != nil {
		return nil, info, err
	}
	return buf.Bytes(), info, nil
}

// downloadVerified downloads the package next to dst, verifies it and
// renames it into place.
func downloadVerified(ctx context.Context, c *client.Client, info client.TargetInfo, dst string, in Input, opt Options) (*Result, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	f, err := atomicfile.Create(dst, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Abort()
	if err := c.Download(ctx, info, f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	in.Package = f
	res, err := Verify(in, opt)
	if err != nil {
		return nil, fmt.Errorf("target %s: in-toto: %w", info.Path, err)
	}
	return res, f.Commit()
}
