//go:build !unix

package redis

import (
	"os"
	"syscall"
)

func detachedProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	return p.Kill()
}

func chownLike(string, string) error { return nil }
