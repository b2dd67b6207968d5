//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package redis

import "os"

// flockExclusive does nothing where flock is missing: scratch directories
// are then not protected from a concurrent cleanup on the same worker.
func flockExclusive(*os.File) error { return nil }
