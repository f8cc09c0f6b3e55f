package pgcluster

import (
	"os"
	"syscall"
)

// tmpfsMagic is TMPFS_MAGIC from <linux/magic.h>.
const tmpfsMagic = 0x01021994

// ScratchDir is the parent directory for throw-away clusters (tests, fault runs):
// /dev/shm when it is a writable tmpfs, else os.TempDir(). A cluster in memory does
// not wait on the disk for CREATE DATABASE, DROP DATABASE and checkpoints, which is
// where a test suite on a shared or slow disk spends most of its time; it is lost on
// reboot, which does not matter for data that is thrown away. ROWGUARD_SCRATCH_DIR
// overrides the choice.
func ScratchDir() string {
	if d := os.Getenv("ROWGUARD_SCRATCH_DIR"); d != "" {
		return d
	}
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err == nil && st.Type == tmpfsMagic && syscall.Access(shm, 0o2 /* W_OK */) == nil {
		return shm
	}
	return os.TempDir()
}
