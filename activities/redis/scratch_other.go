//go:build !linux

package redis

import "syscall"

// scratchProcAttr puts a scratch redis-server in its own process group
// where the platform has them. Only Linux kills it with a dying worker.
func scratchProcAttr() *syscall.SysProcAttr { return detachedProcAttr() }
