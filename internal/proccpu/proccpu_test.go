package proccpu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// spin burns CPU in this process until it has used d more.
func spin(t *testing.T, d time.Duration) {
	t.Helper()
	start, ok := Process(os.Getpid())
	if !ok {
		t.Fatal("cannot read this process's CPU time")
	}
	x := 0
	for deadline := time.Now().Add(time.Minute); ; {
		for i := range 1_000_000 {
			x += i
		}
		if now, _ := Process(os.Getpid()); now-start >= d {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("used under %s of CPU in a minute of spinning (%d)", d, x)
		}
	}
}

func TestProcessCountsThisProcessesWork(t *testing.T) {
	before, ok := Process(os.Getpid())
	if !ok {
		t.Fatal("no /proc/self/stat")
	}
	spin(t, 200*time.Millisecond)
	after, _ := Process(os.Getpid())
	if after-before < 200*time.Millisecond {
		t.Errorf("CPU time grew by %s after spinning 200 ms of CPU", after-before)
	}
	if _, ok := Process(-1); ok {
		t.Error("a pid that cannot exist was read")
	}
}

// A server's time includes the children it has reaped: a child that burned CPU and
// ended still counts once waited for.
func TestServerCountsReapedChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n/data\n", os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _, ok := Server(pidFile)
	if !ok {
		t.Fatal("Server could not read this process")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestSpinChild$")
	child.Env = append(os.Environ(), "PROCCPU_SPIN_CHILD=1")
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("the child: %v %s", err, out)
	}
	after, _, _ := Server(pidFile)
	if after-before < 300*time.Millisecond {
		t.Errorf("server time grew by %s after a reaped child used ≥ 300 ms", after-before)
	}
}

func TestMachineBusyIsAtMostAll(t *testing.T) {
	busy, all, ok := Machine()
	if !ok || all <= 0 || busy < 0 || busy > all {
		t.Fatalf("Machine() = %s, %s, %t", busy, all, ok)
	}
	spin(t, 100*time.Millisecond)
	busy2, all2, _ := Machine()
	if busy2-busy < 100*time.Millisecond-2*clockTick {
		t.Errorf("machine busy time grew by %s while this process used ≥ 100 ms", busy2-busy)
	}
	if all2 < all {
		t.Error("all time went back")
	}
}

// TestSpinChild is the child of TestServerCountsReapedChildren: it burns 300 ms of CPU.
func TestSpinChild(t *testing.T) {
	if os.Getenv("PROCCPU_SPIN_CHILD") != "1" {
		return // run as a child process only
	}
	spin(t, 300*time.Millisecond)
}

func TestSchedIsTheMainThreadsShareOfTheProcess(t *testing.T) {
	spin(t, 50*time.Millisecond)
	run, _, ok := Sched(os.Getpid())
	total, _ := Process(os.Getpid())
	if !ok {
		t.Fatal("no /proc/<pid>/schedstat: the load harness's CPU verdicts need it")
	}
	// schedstat of a pid is its main thread's, in nanoseconds; /proc/<pid>/stat counts
	// every thread, in ticks: a unit mistake in either shows here.
	if run <= 0 || run > total+2*clockTick {
		t.Errorf("main thread on CPU %s, whole process %s", run, total)
	}
	if _, _, ok := Sched(-1); ok {
		t.Error("read a schedstat for pid -1")
	}
}
