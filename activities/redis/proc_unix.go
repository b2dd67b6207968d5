//go:build unix

package redis

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// detachedProcAttr puts a command in its own process group.
func detachedProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills a command started with detachedProcAttr and its children.
func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}

// chownLike gives every file below root the owner of dir, when running as
// root: a sidecar run as root must not leave Redis (run as redis) with
// files it cannot write.
func chownLike(root, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(sys.Uid), int(sys.Gid))
	})
}
