// Package benchtools holds the programs behind the benchmark scripts in
// scripts/: a repository generator, a static file server, a go-tuf v2
// client to compare with, and a timer that records wall time and peak
// memory of repeated runs. None of it is part of Rampart proper.
package benchtools
