package chaos

import "syscall"

// procAttr kills a worker process with the test binary (a panic or a
// timeout must not leave workers polling).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
