package plugin

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel SIGKILL the plugin when the thread that forked it ends
// (prctl PR_SET_PDEATHSIG, set between fork and exec).
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
