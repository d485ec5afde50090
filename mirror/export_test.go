package mirror

import "time"

// SetBeforeRename makes every commit call f before it puts a file in place.
func SetBeforeRename(f func(name string)) { beforeRename = f }

// SetHashedFile makes every run call f with the name of each file of
// DIR/targets it hashes to tell whether it is a target already.
func SetHashedFile(f func(name string)) { hashedFile = f }

// SetRacyWindow sets how recent a change keeps a file out of the record
// of verified files.
func SetRacyWindow(d time.Duration) { racyWindow = d }
