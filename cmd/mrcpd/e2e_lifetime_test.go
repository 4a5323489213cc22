package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
)

// TestE2EKillLeavesNoPlugins: kill -9 of mrcpd takes its plugin processes along, however it
// dies (issue 12 §12); before, they lived on under PID 1.
func TestE2EKillLeavesNoPlugins(t *testing.T) {
	plug := testkit.Binary(t, "plugins/noop")
	d := startMrcpd(t, fmt.Sprintf("engines:\n  recognizer: np\n  plugins:\n    - {name: np, kind: recognizer, path: %s, pool: 2}\n", plug))
	kids := childPIDs(t, d.cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("mrcpd has %d child processes %v, want its 2 plugin processes", len(kids), kids)
	}
	t.Cleanup(func() { // whatever the outcome, leave nothing running
		for _, pid := range kids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Wait()
	d.cmd = nil
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range kids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("plugin process %d still running 10 s after kill -9 of mrcpd", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// childPIDs lists the processes whose parent is ppid.
func childPIDs(t *testing.T, ppid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			kids = append(kids, pid)
		}
	}
	return kids
}

// alive says whether pid runs: a zombie waiting for its new parent to reap it has exited.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
