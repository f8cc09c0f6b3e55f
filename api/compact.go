package api

import (
	"bytes"
	"sync"
)

// One JSON style: every answer is compact, as encoding/json writes it. Go-built
// answers already are; Postgres' are not — json_build_object writes `"k" : v`,
// jsonb `"k": v`, json_agg puts a newline between elements — so the bytes a SQL
// function returns lose their insignificant whitespace before they are written.
//
// compactJSON is encoding/json's Compact for input known to be valid JSON (Postgres
// built it): it drops the whitespace outside strings and copies everything else byte
// for byte, without validating. A body that is already compact is returned as is,
// without a copy (the scan is all it costs); otherwise the result is appended to
// *buf, a buffer from compactBuffers, which the caller returns once it has written
// the bytes. TestCompactJSONMatchesEncodingJSON and FuzzCompactJSON hold it to
// json.Compact; BenchmarkCompactJSON compares the two: on a page of 20 projects
// (7.6 KB, 7.0 KB compact) about 10 µs and no allocation, json.Compact about 50 µs
// (2 cores, shared machine). tests/load's API/direct ratio did not move beyond its
// noise (docs/endpoints.md, One JSON style).

// compactBuffers recycles the buffers of compacted answers.
var compactBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuffer: a buffer that grew beyond this (a huge answer) is not kept.
const maxPooledBuffer = 1 << 20

func isJSONSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// compactJSON returns src without insignificant whitespace. When it returns a
// pooled buffer (pooled != nil), the caller puts it back with releaseCompact after
// use.
func compactJSON(src []byte) (out []byte, pooled *[]byte) {
	i := firstLayoutSpace(src)
	if i < 0 {
		return src, nil
	}
	pooled = compactBuffers.Get().(*[]byte)
	dst := append((*pooled)[:0], src[:i]...)
	for i < len(src) {
		c := src[i]
		switch {
		case isJSONSpace(c):
			i++
		case c == '"':
			j := stringEnd(src, i)
			dst = append(dst, src[i:j]...)
			i = j
		default: // a run of punctuation, numbers and literals
			j := i + 1
			for j < len(src) && src[j] != '"' && !isJSONSpace(src[j]) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	*pooled = dst
	return dst, pooled
}

// firstLayoutSpace is the index of the first whitespace outside a string, or -1.
func firstLayoutSpace(src []byte) int {
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case isJSONSpace(c):
			return i
		case c == '"':
			i = stringEnd(src, i)
		default:
			i++
		}
	}
	return -1
}

// stringEnd is the index just past the string that opens at src[open] (a quote):
// past the first quote after it that an odd run of backslashes does not escape.
func stringEnd(src []byte, open int) int {
	for k := open + 1; ; {
		q := bytes.IndexByte(src[k:], '"')
		if q < 0 {
			return len(src) // unterminated: cannot come from Postgres; keep the rest
		}
		q += k
		backslashes := 0
		for p := q - 1; p > open && src[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q + 1
		}
		k = q + 1
	}
}

// releaseCompact returns a buffer of compactJSON to the pool.
func releaseCompact(pooled *[]byte) {
	if pooled == nil || cap(*pooled) > maxPooledBuffer {
		return
	}
	*pooled = (*pooled)[:0]
	compactBuffers.Put(pooled)
}
