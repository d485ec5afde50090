package mirror

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/client"
)

// Without consistent snapshots a target's file name does not say what it
// holds, and a re-run would hash every file in DIR/targets again to know
// whether it is the target still. Instead each run keeps, in its state, the
// files it wrote or hashed and found right: what identifies each on disk
// (inode, change and modification times, size; fileID) and the hashes it
// was checked against. A re-run hashes only a file whose identity or
// expected hashes differ from the record. Writing to a file changes its
// change time, which no program can set back, and replacing it changes
// its inode: whoever changes a file in DIR makes the next run hash it
// again. File times have a coarse grain, so a file changed less than
// racyWindow before the record is written is left out of it (and hashed
// next time), as a change within the same tick would not show.
const verifiedName = "verified"

var racyWindow = 2 * time.Second

// fileID identifies the content of a file on disk as long as nothing
// writes to it.
type fileID struct {
	ino          uint64
	ctime, mtime int64
	size         int64
}

type verifiedFile struct {
	id     fileID
	hashes string
}

// verified maps names below targets/ to what was verified of them.
type verified map[string]verifiedFile

// hashesKey is the hashes a target's file is checked against, as a string.
func hashesKey(t client.TargetInfo) string {
	return hex.EncodeToString(t.Hashes.SHA256) + "/" + hex.EncodeToString(t.Hashes.SHA512)
}

// readVerified reads the record of a state directory. A line it cannot
// parse is dropped, which only means hashing that file again.
func readVerified(dir string) verified {
	v := verified{}
	f, err := os.Open(filepath.Join(dir, verifiedName))
	if err != nil {
		return v
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 6)
		if len(fields) != 6 {
			continue
		}
		var id fileID
		var errs [4]error
		id.ino, errs[0] = strconv.ParseUint(fields[0], 10, 64)
		id.ctime, errs[1] = strconv.ParseInt(fields[1], 10, 64)
		id.mtime, errs[2] = strconv.ParseInt(fields[2], 10, 64)
		id.size, errs[3] = strconv.ParseInt(fields[3], 10, 64)
		name, err := strconv.Unquote(fields[5])
		if errs != [4]error{} || err != nil {
			continue
		}
		v[name] = verifiedFile{id: id, hashes: fields[4]}
	}
	return v
}

// write writes the record to the state directory dir, leaving out the
// files changed since now-racyWindow.
func (v verified) write(dir string, now time.Time) error {
	cutoff := now.Add(-racyWindow).UnixNano()
	f, err := os.OpenFile(filepath.Join(dir, verifiedName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for name, r := range v {
		if r.id.ctime > cutoff || r.id.mtime > cutoff {
			continue
		}
		fmt.Fprintf(bw, "%d %d %d %d %s %s\n", r.id.ino, r.id.ctime, r.id.mtime, r.id.size, r.hashes, strconv.Quote(name))
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// idOf returns the identity of the file st describes; false where the
// system does not tell inode and change time.
func idOf(st fs.FileInfo) (fileID, bool) {
	ino, ctime, ok := inodeAndCtime(st)
	return fileID{ino: ino, ctime: ctime, mtime: st.ModTime().UnixNano(), size: st.Size()}, ok
}
