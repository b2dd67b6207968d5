//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package redis

import (
	"os"
	"syscall"
)

// flockExclusive takes an exclusive lock on f without waiting; the kernel
// releases it when f is closed or the process dies.
func flockExclusive(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
