package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU accounting (Linux): on a shared, noisy machine, wall-clock throughput
// moves with whatever else runs; CPU time spent per request does much less.
// A snapshot reads this process's CPU time (client and, in-process, the API
// server), the private cluster's PostgreSQL processes' (postmaster, its live
// children, and children it has reaped), and the whole machine's busy time.

// clockTick is USER_HZ, the unit of /proc times: 100 on every Linux ABI Go
// supports.
const clockTick = 10 * time.Millisecond

type cpuSnapshot struct {
	ok          bool
	self        time.Duration
	postgres    time.Duration // 0 when the server is not the private cluster
	pgFaults    int64         // minor page faults of those processes
	machineBusy time.Duration // summed over CPUs
	machineAll  time.Duration
}

// cpuMeter takes snapshots; postmasterPIDFile is empty when the database is
// not the private cluster.
type cpuMeter struct {
	postmasterPIDFile string
}

func (m cpuMeter) snapshot() cpuSnapshot {
	var s cpuSnapshot
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	busy, all, ok := machineTimes()
	if !ok {
		return s
	}
	s.machineBusy, s.machineAll, s.ok = busy, all, true
	if m.postmasterPIDFile != "" {
		s.postgres, s.pgFaults = postgresTime(m.postmasterPIDFile)
	}
	return s
}

// cpuUse is what happened between two snapshots.
type cpuUse struct {
	Self     time.Duration
	Postgres time.Duration
	PgFaults int64
	Others   time.Duration // busy time of everything else on the machine
	Idle     time.Duration
	Capacity time.Duration // wall time × CPUs
}

func (a cpuSnapshot) to(b cpuSnapshot) (cpuUse, bool) {
	if !a.ok || !b.ok {
		return cpuUse{}, false
	}
	u := cpuUse{
		Self:     b.self - a.self,
		Postgres: b.postgres - a.postgres,
		PgFaults: b.pgFaults - a.pgFaults,
		Capacity: b.machineAll - a.machineAll,
	}
	busy := b.machineBusy - a.machineBusy
	u.Idle = u.Capacity - busy
	u.Others = max(0, busy-u.Self-u.Postgres)
	return u, true
}

func (u *cpuUse) add(o cpuUse) {
	u.Self += o.Self
	u.Postgres += o.Postgres
	u.PgFaults += o.PgFaults
	u.Others += o.Others
	u.Idle += o.Idle
	u.Capacity += o.Capacity
}

// machineTimes reads the aggregate "cpu" line of /proc/stat.
func machineTimes() (busy, all time.Duration, ok bool) {
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

// postgresTime is the CPU time and the minor page faults of the postmaster,
// of its live children and of the children it has reaped.
func postgresTime(pidFile string) (time.Duration, int64) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, 0
	}
	var ticks, faults int64
	if f, ok := procStat(pm); ok {
		ticks += f[13] + f[14] + f[15] + f[16] // utime stime cutime cstime
		faults += f[9] + f[10]                 // minflt cminflt
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if f, ok := procStat(pid); ok && f[3] == int64(pm) {
			ticks += f[13] + f[14]
			faults += f[9]
		}
	}
	return time.Duration(ticks) * clockTick, faults
}

// procStat returns the numeric fields of /proc/pid/stat, indexed as in
// proc(5) from 0 (field 1, the pid); the comm field (1) reads as 0.
func procStat(pid int) ([]int64, bool) {
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
		n, _ := strconv.ParseInt(v, 10, 64) // the state letter reads as 0
		out = append(out, n)
	}
	return out, true
}

// schedStat is a thread's time on a CPU and time waiting on a runqueue for one, in
// nanoseconds (/proc/<pid>/schedstat; for a PostgreSQL backend, the process).
func schedStat(pid int) (onCPU, waiting time.Duration, ok bool) {
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
