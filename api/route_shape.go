package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gorilla/mux"
)

// gorilla/mux tries the routes in registration order and runs each one's path
// regexp until one matches: a request for a route registered late (the finance
// routes come last) ran some sixty regexps first — about 30 µs of a records page
// (2 cores), as much as reading its rows' JSON from the database. A route's first
// matcher is now its path's shape, then its regexp: the path has the template's
// number of segments and the template's literal segments, byte for byte, which is a
// necessary condition of the regexp (a variable never matches a '/': the id
// variables match a UUID, the others mux's default [^/]+). So only the few routes of
// that shape run a regexp.
//
// The matcher answers exactly as the route's path matcher after it (the shape
// decides only where the regexp would fail too): mux clears a pending method
// mismatch whenever a matcher succeeds, so a matcher that admitted a path its path
// matcher then refused would turn some 405 answers into 404s. The path matcher runs
// the regexp once more on the routes it admits (a handful). mux matches r.URL.Path
// (the router does not use UseEncodedPath), and so does the shape.
// TestRoutingUnchangedByShapes routes every route's path and variations of it, with
// every method, through the routers and through the same routes without shapes.

// pathShape is the segments of a route template ("/v1/orgs/{org_id}" has "", "v1",
// "orgs", "{org_id}"); a segment holding a variable matches any segment. prefix and
// suffix are the template's text before its first variable and after its last (the
// whole template when it has none): most paths of another shape fail on them at
// once.
type pathShape struct {
	segments       []string
	variable       []bool
	prefix, suffix string
}

// newPathShape is the shape of template; ok is false when a variable of template
// names its own pattern ({name:regexp}), which might match a '/': such a route gets
// no shape and its regexp alone decides.
func newPathShape(template string) (shape pathShape, ok bool) {
	for _, seg := range strings.Split(template, "/") {
		variable := strings.Contains(seg, "{")
		if variable && strings.Contains(seg, ":") {
			return pathShape{}, false
		}
		shape.segments = append(shape.segments, seg)
		shape.variable = append(shape.variable, variable)
	}
	shape.prefix, shape.suffix = template, template
	if i := strings.IndexByte(template, '{'); i >= 0 {
		shape.prefix = template[:i]
		shape.suffix = template[strings.LastIndexByte(template, '}')+1:]
	}
	return shape, true
}

// admits reports whether path has the shape (without allocating).
func (p pathShape) admits(path string) bool {
	if !strings.HasSuffix(path, p.suffix) || !strings.HasPrefix(path, p.prefix) {
		return false
	}
	last := len(p.segments) - 1
	for i, seg := range p.segments {
		cur := path
		if j := strings.IndexByte(path, '/'); j >= 0 {
			if i == last {
				return false // more segments than the template
			}
			cur, path = path[:j], path[j+1:]
		} else if i != last {
			return false // fewer segments
		}
		if !p.variable[i] && cur != seg {
			return false
		}
	}
	return true
}

// matcher is the shape then *pathRE (the route's path regexp) as a mux matcher of
// r.URL.Path.
func (p pathShape) matcher(pathRE **regexp.Regexp) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		return p.admits(r.URL.Path) && (*pathRE).MatchString(r.URL.Path)
	}
}
