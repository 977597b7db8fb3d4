package lists

import "strings"

// table maps domain patterns to values with label-boundary matching. It
// is filled while loading and only read afterwards, so concurrent lookups
// need no lock.
type table[V any] struct {
	// suffix holds "example.com" patterns: the name and every name
	// below it.
	suffix map[string]V
	// exact holds "=www.example.com" patterns: that name only.
	exact map[string]V
	// wild holds "example.*" patterns keyed without the ".*": any
	// single top-level label after the key.
	wild map[string]V
	// depth is the most labels a suffix or wildcard pattern has; the
	// lookup stops walking after that many.
	depth int
}

func newTable[V any]() table[V] {
	return table[V]{suffix: map[string]V{}, exact: map[string]V{}, wild: map[string]V{}}
}

func (t *table[V]) len() int { return len(t.suffix) + len(t.exact) + len(t.wild) }

// set stores a pattern of the given kind, replacing an earlier entry.
func (t *table[V]) set(k kind, pattern string, v V) {
	m := t.suffix
	switch k {
	case kindExact:
		m = t.exact
	case kindWild:
		m = t.wild
	}
	m[pattern] = v
	depth := strings.Count(pattern, ".") + 1
	if k == kindWild {
		depth++
	}
	if k != kindExact && depth > t.depth {
		t.depth = depth
	}
}

// lookup finds the most specific pattern matching the normalized name: an
// exact entry first, else the longest matching suffix, where a wildcard
// entry counts as long as the suffix it covers and loses to a plain suffix
// of the same length. It walks the labels right to left, one map lookup
// per label (two with wildcards), and does not allocate.
func (t *table[V]) lookup(name string) (v V, ok bool) {
	if name == "" {
		return v, false
	}
	if len(t.exact) > 0 {
		if v, ok := t.exact[name]; ok {
			return v, true
		}
	}
	tld := strings.LastIndexByte(name, '.')
	end := len(name)
	for labels := 1; labels <= t.depth; labels++ {
		dot := strings.LastIndexByte(name[:end], '.')
		start := dot + 1
		if len(t.wild) > 0 && start < tld {
			if w, found := t.wild[name[start:tld]]; found {
				v, ok = w, true
			}
		}
		if s, found := t.suffix[name[start:]]; found {
			v, ok = s, true
		}
		if dot < 0 {
			break
		}
		end = dot
	}
	return v, ok
}
