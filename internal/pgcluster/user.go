package pgcluster

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the system account that runs the server when we are root: initdb and
// postgres refuse to run as root.
const serverUser = "postgres"

// serverCredential returns the credential PostgreSQL programs run with: nil (our own)
// unless we are root, then the postgres system user's.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, but PostgreSQL refuses to run as root and the %q system user does not exist (%v); "+
			"run as an ordinary user, or install the postgresql package, which creates it", serverUser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: unexpected uid/gid %q/%q for user %s", u.Uid, u.Gid, serverUser)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				groups = append(groups, uint32(g))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

// prepareForPostgresUser gives the cluster directory to the postgres user (we are
// root) and checks that the user can reach it through every parent directory.
func (c *Cluster) prepareForPostgresUser() error {
	if err := c.mkdirOwned(c.dir); err != nil {
		return err
	}
	for p := filepath.Dir(c.dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if !c.runAsCanSearch(fi) {
			return fmt.Errorf("pgcluster: the %s user (which runs the server, since we are root) cannot reach %s: "+
				"%s (mode %v) is not searchable by it; choose a directory elsewhere (for example under /tmp) or run chmod o+x %s",
				serverUser, c.dir, p, fi.Mode().Perm(), p)
		}
		if p == "/" || p == filepath.Dir(p) {
			return nil
		}
	}
}

func (c *Cluster) runAsCanSearch(fi os.FileInfo) bool {
	st := fi.Sys().(*syscall.Stat_t)
	mode := fi.Mode().Perm()
	if st.Uid == c.runAs.Uid {
		return mode&0o100 != 0
	}
	inGroup := st.Gid == c.runAs.Gid
	for _, g := range c.runAs.Groups {
		inGroup = inGroup || st.Gid == g
	}
	if inGroup {
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}
