package main

import (
	"syscall"
	"time"

	"github.com/rowguard/rowguard/internal/proccpu"
)

// CPU accounting (Linux): on a shared, noisy machine, wall-clock throughput
// moves with whatever else runs; CPU time spent per request does much less.
// A snapshot reads this process's CPU time (client and, in-process, the API
// server), the private cluster's PostgreSQL processes' (postmaster, its live
// children, and children it has reaped), and the whole machine's busy time.

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
	busy, all, ok := proccpu.Machine()
	if !ok {
		return s
	}
	s.machineBusy, s.machineAll, s.ok = busy, all, true
	if m.postmasterPIDFile != "" {
		s.postgres, s.pgFaults, _ = proccpu.Server(m.postmasterPIDFile)
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

// schedStat is a backend's time on a CPU and waiting for one (proccpu.Sched).
var schedStat = proccpu.Sched
