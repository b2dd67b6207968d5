package testenv

import "syscall"

// motoProcAttr has moto killed if the test binary dies without cleaning up.
func motoProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
