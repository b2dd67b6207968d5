package redis

import "syscall"

// scratchProcAttr puts a scratch redis-server in its own process group (so
// killGroup reaches it) and has the kernel kill it if the worker dies: a
// scratch node never outlives the activity that started it.
func scratchProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
