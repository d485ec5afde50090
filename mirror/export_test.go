package mirror

// SetBeforeRename makes every commit call f before it puts a file in place.
func SetBeforeRename(f func(name string)) { beforeRename = f }
