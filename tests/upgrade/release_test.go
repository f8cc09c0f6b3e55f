package upgrade

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

// releaseFile names the previous release and how it installed itself.
const releaseFile = "PREVIOUS_RELEASE"

// release is a parsed PREVIOUS_RELEASE.
type release struct {
	Commit       string   // full hash
	Migrations   string   // folder of the tern migrations, at Commit
	VersionTable string   // tern's version table
	Code         []string // tern code packages, in install order
	Seed         []string // SQL files run after the install
}

// readRelease parses PREVIOUS_RELEASE (its format is described in the file).
func readRelease(file string) (*release, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &release{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s: %q", file, n, why, line) }
		switch {
		case fields[0] == "commit" && len(fields) == 2:
			if r.Commit != "" {
				return nil, bad("a second commit")
			}
			if len(fields[1]) != 40 || strings.Trim(fields[1], "0123456789abcdef") != "" {
				return nil, bad("the commit must be a full, lower-case 40-digit hash")
			}
			r.Commit = fields[1]
		case fields[0] == "migrations" && len(fields) == 3:
			if r.Migrations != "" {
				return nil, bad("a second migrations line")
			}
			r.Migrations, r.VersionTable = fields[1], fields[2]
		case fields[0] == "code" && len(fields) == 2:
			r.Code = append(r.Code, fields[1])
		case fields[0] == "seed" && len(fields) == 2:
			r.Seed = append(r.Seed, fields[1])
		default:
			return nil, bad("want commit <hash>, migrations <dir> <version table>, code <dir> or seed <file>")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if r.Commit == "" || r.Migrations == "" {
		return nil, fmt.Errorf("%s: needs a commit line and a migrations line", file)
	}
	return r, nil
}

// paths returns every folder and file the release's install reads.
func (r *release) paths() []string {
	return append(append([]string{r.Migrations}, r.Code...), r.Seed...)
}

// extract reads the release's folders and files out of the git repository that holds
// the working directory, at r.Commit, with git archive. A clone without the commit (a
// shallow one, or one from before the commit) is an error naming the commit.
func (r *release) extract(ctx context.Context) (fstest.MapFS, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("git is needed to read the previous release %s: %w", r.Commit, err)
	}
	top, err := git(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("this test reads the previous release from the repository's history, but the working directory is not in a git repository: %w", err)
	}
	if _, err := git(ctx, "-C", strings.TrimSpace(string(top)), "cat-file", "-e", r.Commit+"^{commit}"); err != nil {
		return nil, fmt.Errorf("the previous release, commit %s (%s), is not in this clone: "+
			"fetch the full history (git fetch --unshallow, or clone without --depth): %w", r.Commit, releaseFile, err)
	}
	tarball, err := git(ctx, append([]string{"-C", strings.TrimSpace(string(top)), "archive", "--format=tar", r.Commit, "--"}, r.paths()...)...)
	if err != nil {
		return nil, fmt.Errorf("git archive %s: %w", r.Commit, err)
	}
	files := fstest.MapFS{}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("git archive %s: %w", r.Commit, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("git archive %s: %s: %w", r.Commit, h.Name, err)
		}
		files[path.Clean(h.Name)] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	for _, p := range r.paths() {
		if _, err := fs.Stat(files, p); err != nil {
			return nil, fmt.Errorf("%s at %s: %w", p, r.Commit, err)
		}
	}
	return files, nil
}

func git(ctx context.Context, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// install installs the release into the database at url the way that release did: its
// tern migrations, then its code packages in order; then it runs the seed files.
func (r *release) install(ctx context.Context, url string, files fs.FS) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	m, err := migrate.NewMigrator(ctx, conn, r.VersionTable)
	if err != nil {
		return fmt.Errorf("release %s: version table %s: %w", r.Commit, r.VersionTable, err)
	}
	migrations, err := fs.Sub(files, r.Migrations)
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(migrations); err != nil {
		return fmt.Errorf("release %s: load %s: %w", r.Commit, r.Migrations, err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("release %s: %s: %w", r.Commit, r.Migrations, err)
	}
	for _, dir := range r.Code {
		code, err := fs.Sub(files, dir)
		if err != nil {
			return err
		}
		pkg, err := migrate.LoadCodePackage(code)
		if err != nil {
			return fmt.Errorf("release %s: load code package %s: %w", r.Commit, dir, err)
		}
		if err := migrate.InstallCodePackage(ctx, conn, map[string]any{}, pkg); err != nil {
			return fmt.Errorf("release %s: install code package %s: %w", r.Commit, dir, err)
		}
	}
	for _, file := range r.Seed {
		sql, err := fs.ReadFile(files, file)
		if err != nil {
			return err
		}
		// Without arguments pgx sends the file as one simple-protocol query, so a file
		// may hold its own begin … commit.
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("release %s: seed %s: %w", r.Commit, file, err)
		}
	}
	return nil
}
