//go:build !linux

package plugin

import "os/exec"

// setParentDeathSignal: only Linux has one; the lifeline alone ends plugins elsewhere.
func setParentDeathSignal(*exec.Cmd) {}
