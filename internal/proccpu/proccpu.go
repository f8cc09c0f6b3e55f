// Package proccpu reads CPU time from Linux's /proc: of one process, of a PostgreSQL
// server (its postmaster and every backend), and of the whole machine. Benchmarks on a
// shared machine report CPU per request, which moves far less with other jobs' load
// than wall-clock throughput does.
package proccpu

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc times: 100 on every Linux ABI Go supports.
const clockTick = 10 * time.Millisecond

// Stat returns the numeric fields of /proc/pid/stat, indexed as in proc(5) from 0
// (field 1, the pid); the comm field reads as 0, and so does the state letter.
func Stat(pid int) ([]int64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, false
	}
	// comm may hold spaces and parentheses: the rest starts after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	rest := strings.Fields(string(b[i+1:]))
	if len(rest) < 15 {
		return nil, false
	}
	out := make([]int64, 2, 2+len(rest))
	out[0] = int64(pid)
	for _, v := range rest {
		n, _ := strconv.ParseInt(v, 10, 64)
		out = append(out, n)
	}
	return out, true
}

// Process is the CPU time (user + system) pid has used so far, its threads included.
func Process(pid int) (time.Duration, bool) {
	f, ok := Stat(pid)
	if !ok {
		return 0, false
	}
	return time.Duration(f[13]+f[14]) * clockTick, true
}

// Server is the CPU time and the minor page faults of a server and of its children:
// the process whose pid is the first line of pidFile (a postmaster.pid), its live
// children, and the children it has reaped (a backend that ended still counts).
func Server(pidFile string) (time.Duration, int64, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, 0, false
	}
	f, ok := Stat(pm)
	if !ok {
		return 0, 0, false
	}
	ticks := f[13] + f[14] + f[15] + f[16] // utime stime cutime cstime
	faults := f[9] + f[10]                 // minflt cminflt
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if f, ok := Stat(pid); ok && f[3] == int64(pm) {
			ticks += f[13] + f[14]
			faults += f[9]
		}
	}
	return time.Duration(ticks) * clockTick, faults, true
}

// Machine reads the aggregate "cpu" line of /proc/stat: busy time and all time,
// summed over CPUs.
func Machine() (busy, all time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	var sum, idle int64
	for i, v := range f[1:] {
		if i >= 8 { // guest times are already in user and nice
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(sum-idle) * clockTick, time.Duration(sum) * clockTick, true
}

// Sched is a thread's time on a CPU and time waiting on a runqueue for one, in
// nanoseconds (/proc/<pid>/schedstat; for a PostgreSQL backend, the process).
func Sched(pid int) (onCPU, waiting time.Duration, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	run, err1 := strconv.ParseInt(f[0], 10, 64)
	wait, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return time.Duration(run), time.Duration(wait), true
}
