package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the release version of rampart. Release builds set it with
//
//	go build -ldflags "-X github.com/rampart-tuf/rampart/internal/cli.Version=v1.2.3" ./cmd/rampart
//
// When it is empty the version comes from the module build information.
var Version string

// versionInfo is what `rampart version` prints.
type versionInfo struct {
	Version   string // release or module version, "devel" when unknown
	Revision  string // VCS revision, empty when unknown
	Time      string // VCS commit time, empty when unknown
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string // Go toolchain that built the binary
	Platform  string // GOOS/GOARCH
}

func currentVersion() versionInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolveVersion(Version, bi)
}

// resolveVersion works out the version from the -ldflags value, falling back
// to the build information that the Go toolchain records in the binary.
func resolveVersion(ldflagsVersion string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		Version:   ldflagsVersion,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of rampart and of the Go toolchain that built it",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "rampart %s\n", v.Version)
			if v.Revision != "" {
				rev := v.Revision
				if v.Modified {
					rev += " (modified)"
				}
				fmt.Fprintf(w, "commit:    %s\n", rev)
			}
			if v.Time != "" {
				fmt.Fprintf(w, "committed: %s\n", v.Time)
			}
			fmt.Fprintf(w, "go:        %s\n", v.GoVersion)
			fmt.Fprintf(w, "platform:  %s\n", v.Platform)
			return nil
		},
	}
}
