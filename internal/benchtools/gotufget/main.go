// Command gotufget does a cold download of one target with go-tuf v2's
// client, the peer the benchmark scripts compare Rampart's client with:
//
//	gotufget -root ROOT.json -url BASE -dir DIR -target PATH -o FILE
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

func main() {
	root := flag.String("root", "", "trusted root.json")
	base := flag.String("url", "", "repository base URL (metadata/ and targets/ below it)")
	dir := flag.String("dir", "", "local metadata directory")
	target := flag.String("target", "", "target path")
	out := flag.String("o", "", "output file")
	flag.Parse()
	rootBytes, err := os.ReadFile(*root)
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.New(*base+"/metadata", rootBytes)
	if err != nil {
		log.Fatal(err)
	}
	cfg.LocalMetadataDir = *dir
	cfg.LocalTargetsDir = filepath.Dir(*out)
	cfg.RemoteTargetsURL = *base + "/targets"
	cfg.PrefixTargetsWithHash = true
	// Admit the same sizes as Rampart's defaults.
	cfg.SnapshotMaxLength = 64 << 20
	cfg.TargetsMaxLength = 64 << 20
	up, err := updater.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := up.Refresh(); err != nil {
		log.Fatal(err)
	}
	info, err := up.GetTargetInfo(*target)
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := up.DownloadTarget(info, *out, ""); err != nil {
		log.Fatal(err)
	}
}
