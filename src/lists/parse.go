package lists

import (
	"errors"
	"fmt"
	"strings"
)

// kind says how a pattern matches.
type kind uint8

const (
	kindSuffix kind = iota // "example.com": the name and all names below it
	kindExact              // "=www.example.com": that name only
	kindWild               // "example.*": example.<any TLD> and names below it
)

// canonical writes a parsed pattern back in pakon's syntax.
func canonical(k kind, pattern string) string {
	switch k {
	case kindExact:
		return "=" + pattern
	case kindWild:
		return pattern + ".*"
	}
	return pattern
}

// keep is the replacement that keeps the observed name ("-" in a file).
const keep = ""

// LineError is a malformed line of a list file. Load skips such lines and
// returns them as warnings.
type LineError struct {
	Path string // file as given to Load
	Line int    // 1-based line number
	Err  error
}

// Error formats the warning as "file:line: problem".
func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }

// Unwrap returns the problem.
func (e *LineError) Unwrap() error { return e.Err }

// parsePattern reads a pattern in pakon's own syntax (see the package doc)
// and returns its kind and its normalized key.
func parsePattern(s string) (kind, string, error) {
	k := kindSuffix
	switch {
	case strings.HasPrefix(s, "="):
		k, s = kindExact, s[1:]
	case strings.HasPrefix(s, "*."):
		s = s[2:]
	case strings.HasPrefix(s, "."):
		s = s[1:]
	}
	if k == kindSuffix && strings.HasSuffix(s, ".*") {
		k, s = kindWild, s[:len(s)-2]
	}
	if s == "" {
		return 0, "", fmt.Errorf("empty pattern: %w", errNotDomain)
	}
	key, ip := normalize(s)
	if ip {
		return 0, "", fmt.Errorf("%q is an IP address, lists match names only: %w", s, errNotDomain)
	}
	if err := checkDomain(key, false); err != nil {
		return 0, "", err
	}
	return k, key, nil
}

// parseReplacement reads the right-hand side of a replace entry.
func parseReplacement(s string) (string, error) {
	if s == "-" {
		return keep, nil
	}
	name, ip := normalize(s)
	if ip {
		return "", fmt.Errorf("replacement %q is an IP address: %w", s, errNotDomain)
	}
	if err := checkDomain(name, false); err != nil {
		return "", fmt.Errorf("replacement: %w", err)
	}
	return name, nil
}

// pakonPattern translates a Turris PaKon pattern, which PaKon matched as a
// plain substring anywhere in the name, into pakon's syntax: a leading dot
// is dropped (the pattern always covers the domain and all names below
// it), and a trailing dot, PaKon's way of saying "under any top-level
// domain", becomes the ".*" wildcard. Everything else is read as a domain
// suffix matched on label boundaries, so "google.com" no longer matches
// "notgoogle.com" nor "google.com.example.net". Fragments that are no
// domain at all, such as "fbcdn-", are rejected.
func pakonPattern(s string) string {
	if strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "..") {
		s = strings.TrimPrefix(s[:len(s)-1], ".")
		if s == "" {
			return s
		}
		return s + ".*"
	}
	return strings.TrimPrefix(s, ".")
}

var errSyntax = errors.New("syntax")

// replaceLine is one parsed line of a replace file.
type replaceLine struct {
	kind        kind
	pattern     string
	replacement string
}

// parseReplaceLine parses one line of a replace file. skip is true for
// blank lines, comments and the braces of PaKon's JSON variant.
func parseReplaceLine(line string) (e replaceLine, skip bool, err error) {
	line, _, _ = strings.Cut(line, "#")
	line = strings.TrimSpace(line)
	switch line {
	case "", "{", "}":
		return e, true, nil
	}
	var pat, repl string
	if line[0] == '"' {
		pat, repl, err = splitPaKon(line)
		if err != nil {
			return e, false, err
		}
		native := pakonPattern(strings.ToLower(pat))
		e.kind, e.pattern, err = parsePattern(native)
		switch {
		case err != nil && native != strings.ToLower(pat):
			return e, false, fmt.Errorf("PaKon pattern %q, read as %q: %w", pat, native, err)
		case err != nil:
			return e, false, fmt.Errorf("PaKon pattern: %w", err)
		}
	} else {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return e, false, fmt.Errorf("want \"pattern replacement\", got %d fields: %w", len(fields), errSyntax)
		}
		pat, repl = fields[0], fields[1]
		e.kind, e.pattern, err = parsePattern(pat)
		if err != nil {
			return e, false, fmt.Errorf("pattern: %w", err)
		}
	}
	e.replacement, err = parseReplacement(repl)
	return e, false, err
}

// splitPaKon splits a PaKon line `"pattern": "replacement"` with an
// optional trailing comma (the JSON variant).
func splitPaKon(line string) (pat, repl string, err error) {
	pat, rest, ok := quoted(line)
	if !ok {
		return "", "", fmt.Errorf("unterminated quote: %w", errSyntax)
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, ":") {
		return "", "", fmt.Errorf(`want ":" after the quoted pattern: %w`, errSyntax)
	}
	repl, rest, ok = quoted(strings.TrimSpace(rest[1:]))
	if !ok {
		return "", "", fmt.Errorf("want a quoted replacement after \":\": %w", errSyntax)
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && rest != "," {
		return "", "", fmt.Errorf("unexpected %q after the replacement: %w", rest, errSyntax)
	}
	return pat, repl, nil
}

// quoted reads a double-quoted string without escapes at the start of s.
func quoted(s string) (inner, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", "", false
	}
	return s[1 : end+1], s[end+2:], true
}

// ignoreLine is one parsed line of an ignore file.
type ignoreLine struct {
	kind    kind
	pattern string
	ignore  bool // false for "!pattern" exceptions
}

// parseIgnoreLine parses one line of an ignore file.
func parseIgnoreLine(line string) (e ignoreLine, skip bool, err error) {
	line, _, _ = strings.Cut(line, "#")
	fields := strings.Fields(line)
	switch len(fields) {
	case 0:
		return e, true, nil
	case 1:
	default:
		return e, false, fmt.Errorf("want one pattern, got %d fields: %w", len(fields), errSyntax)
	}
	pat := fields[0]
	e.ignore = true
	if strings.HasPrefix(pat, "!") {
		e.ignore, pat = false, pat[1:]
	}
	e.kind, e.pattern, err = parsePattern(pat)
	return e, false, err
}
