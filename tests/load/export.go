package main

// The CSV export's figures (-finance-export): at each ledger size, GET …/records?format=csv
// of the whole ledger through the API, read as a stream (line by line, nothing kept),
// with the time, the rows and bytes, and the process's resident memory: its current RSS
// before, and its peak (VmHWM) during the export, the peak having been reset just before
// (Linux: /proc/self/clear_refs). In-process (no -url), the one process is both the API
// server and this client, so the peak is an upper bound of the server's; a flat peak
// across sizes is what "bounded memory" means.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// memKiB reads a VmXXX line of /proc/self/status (kB), -1 when unavailable.
func memKiB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func measureExport(ctx context.Context, e *env, l *financeLedger, size int, stdout io.Writer) error {
	url := e.baseURL + "/v1/orgs/" + l.t.orgID + "/projects/" + l.projectID + "/records?format=csv"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", l.t.auth)
	runtime.GC()
	before := memKiB("VmRSS")
	resetOK := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	start := time.Now()
	resp, err := (&http.Client{}).Do(req) // no client timeout: the export is long by nature
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var lines, bytes int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		bytes += int64(len(sc.Bytes())) + 1
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("after %d lines: %w", lines, err)
	}
	took := time.Since(start)
	peak := memKiB("VmHWM")
	if !resetOK {
		peak = -1
	}
	if lines-1 != int64(size) {
		return fmt.Errorf("%d data lines, want %d", lines-1, size)
	}
	fmt.Fprintf(stdout, "%-10d %-22s %7.1fs %9.0f rows/s %7.1f MiB  RSS before %6.1f MiB, peak during %6.1f MiB\n",
		size, "csv export (HTTP)", took.Seconds(), float64(lines-1)/took.Seconds(), float64(bytes)/(1<<20),
		float64(before)/1024, float64(peak)/1024)
	return nil
}
