//go:build !linux

package testenv

import "syscall"

func motoProcAttr() *syscall.SysProcAttr { return nil }
