// Package lists applies the domain lists to observed host names at query
// time: service merges (domains_replace) turn a name such as
// "scontent-prg1-1.xx.fbcdn.net" into the name shown, "facebook.com", and
// the ignore list (domains_ignore) marks names hidden by default.
//
// # Matching
//
// Patterns match on label boundaries: "fbcdn.net" matches "fbcdn.net" and
// every name below it ("a.b.fbcdn.net"), never "notfbcdn.net". When
// several patterns match, the most specific wins: an exact entry
// ("=www.example.com") first, else the longest matching suffix. A wildcard
// pattern "example.*" matches "example.<one top-level label>" and the
// names below it ("www.example.cz", not "example.co.uk"); it loses to a
// plain suffix covering the same labels. A leading "." or "*." on a
// pattern is accepted and means the same as none.
//
// # Names
//
//   - Upper case and one trailing dot are ignored: "WWW.Example.COM."
//     matches like "www.example.com", and Display returns the lower-case
//     form without the dot.
//   - IP literals (IPv4, IPv6, optionally in URL brackets) are never
//     merged and never ignored; Display returns them unchanged. Patterns
//     that are IP addresses or end in a numeric label are rejected, so no
//     pattern can match part of an address.
//   - Internationalized names are matched in their ASCII form ("xn--"
//     labels, RFC 3492 Punycode). A pattern or observed name written in
//     Unicode is lower-cased and encoded first (simple case folding only,
//     not the full UTS #46 mapping). Display returns ASCII; Unicode turns a
//     name into its Unicode form for showing it to a person.
//   - The empty name stays empty: Display returns "" and Ignored false;
//     the caller decides how to show a flow without a name.
//
// # File formats
//
// Both files take "#" comments (from "#" to the end of the line) and blank
// lines. A malformed line is skipped and reported as a *LineError naming
// file and line; it never makes Load fail. Files are read in the order
// given and a later entry for the same pattern overrides an earlier one,
// so a user file listed after the shipped one can change or undo its
// entries.
//
// domains_replace, pakon's own syntax, one entry a line:
//
//	fbcdn.net         facebook.com   # fbcdn.net and all names below it
//	=www.example.com  example.com    # this name only
//	google.*          google.com     # google.cz, www.google.de, …
//	static.example.com  -            # "-": keep the observed name
//
// domains_replace also reads Turris PaKon's lines, `"pattern": "replacement"`
// with an optional trailing comma and the braces of its JSON variant, so
// existing PaKon lists can be used as they are. PaKon matched its patterns
// as substrings of the name; pakon reads them as domains instead: a
// leading dot is dropped (".fbcdn.net" is fbcdn.net and all names below
// it), a trailing dot, PaKon's "under any top-level domain", becomes the
// wildcard ("twitter." is "twitter.*"), and anything else is a domain
// suffix. Patterns that are fragments of a label, such as "fbcdn-", cannot
// be read as a domain and are reported and skipped.
//
// domains_ignore, one pattern a line; "!pattern" exempts names below an
// ignored domain (the most specific entry wins, as above):
//
//	doubleclick.net
//	!important.doubleclick.net
//
// A name is ignored if its observed form or its replaced form matches.
//
// # Concurrency
//
// A *Lists is immutable after Load and safe for concurrent use. To apply
// new files (on SIGHUP), Load again and swap the pointer, for example
// through an atomic.Pointer[Lists]. The methods of a nil *Lists behave as
// if both lists were empty.
package lists

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxWarnings bounds the warnings reported for one file, so that a wrong
// file (a binary, a hosts file) cannot flood the log.
const maxWarnings = 50

// maxLineLen bounds a line; longer lines are reported and skipped.
const maxLineLen = 4096

// Lists holds the loaded replace and ignore lists.
type Lists struct {
	replace table[string]
	ignore  table[bool]
}

// Load reads the replace files and the ignore files, in order. It returns
// the lists, the malformed lines it skipped (each a *LineError), and an
// error only if a file cannot be read; a missing file is an error that
// wraps fs.ErrNotExist.
func Load(replacePaths, ignorePaths []string) (*Lists, []error, error) {
	l := newLists()
	var warnings []error
	for _, path := range replacePaths {
		w, err := readFile(path, l.addReplaceLine)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
	}
	for _, path := range ignorePaths {
		w, err := readFile(path, l.addIgnoreLine)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
	}
	return l, warnings, nil
}

func newLists() *Lists {
	return &Lists{replace: newTable[string](), ignore: newTable[bool]()}
}

// Len returns the number of replace and ignore entries.
func (l *Lists) Len() (replace, ignore int) {
	if l == nil {
		return 0, 0
	}
	return l.replace.len(), l.ignore.len()
}

// Display returns the name to show for an observed host name: the
// replacement of the most specific matching entry, else the normalized
// observed name (lower case, no trailing dot, ASCII). IP literals are
// returned unchanged and "" stays "".
func (l *Lists) Display(observed string) string {
	name, ip := normalize(observed)
	if ip {
		return observed
	}
	return l.display(name)
}

// Ignored reports whether flows to the observed name are hidden by
// default: whether the observed name or its replacement matches the
// ignore list. IP literals and "" are never ignored.
func (l *Lists) Ignored(observed string) bool {
	_, ignored := l.Lookup(observed)
	return ignored
}

// Lookup returns Display(observed) and Ignored(observed) in one pass.
func (l *Lists) Lookup(observed string) (display string, ignored bool) {
	name, ip := normalize(observed)
	if ip {
		return observed, false
	}
	display = l.display(name)
	return display, l.ignored(name) || (display != name && l.ignored(display))
}

func (l *Lists) display(name string) string {
	if l == nil {
		return name
	}
	if r, ok := l.replace.lookup(name); ok && r != keep {
		return r
	}
	return name
}

func (l *Lists) ignored(name string) bool {
	if l == nil {
		return false
	}
	ignored, _ := l.ignore.lookup(name)
	return ignored
}

// addReplaceLine adds one line of a replace file and returns the
// canonical pattern it set, "" for blank and comment lines.
func (l *Lists) addReplaceLine(line string) (string, error) {
	e, skip, err := parseReplaceLine(line)
	if skip || err != nil {
		return "", err
	}
	l.replace.set(e.kind, e.pattern, e.replacement)
	return canonical(e.kind, e.pattern), nil
}

// addIgnoreLine is addReplaceLine for an ignore file.
func (l *Lists) addIgnoreLine(line string) (string, error) {
	e, skip, err := parseIgnoreLine(line)
	if skip || err != nil {
		return "", err
	}
	l.ignore.set(e.kind, e.pattern, e.ignore)
	return canonical(e.kind, e.pattern), nil
}

func readFile(path string, add func(string) (string, error)) ([]error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open list: %w", err)
	}
	defer f.Close()
	warnings, err := read(f, path, add)
	if err != nil {
		return warnings, fmt.Errorf("read list %s: %w", path, err)
	}
	return warnings, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// read feeds the lines of r to add and collects the warnings for path.
// A pattern given twice in one file is reported, since its first entry
// is silently lost otherwise; across files, overriding is the point.
func read(r io.Reader, path string, add func(string) (string, error)) ([]error, error) {
	var warnings []error
	dropped := 0
	warn := func(line int, err error) {
		if len(warnings) < maxWarnings {
			warnings = append(warnings, &LineError{Path: path, Line: line, Err: err})
		} else {
			dropped++
		}
	}
	seen := map[string]int{} // canonical pattern → first line
	br := bufio.NewReaderSize(r, maxLineLen)
	for n := 1; ; n++ {
		raw, err := br.ReadSlice('\n')
		tooLong := false
		for errors.Is(err, bufio.ErrBufferFull) {
			tooLong = true // drain the rest of the line
			_, err = br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return warnings, err
		}
		if len(raw) == 0 && err != nil {
			break
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, utf8BOM)
		}
		switch {
		case tooLong:
			warn(n, fmt.Errorf("line longer than %d bytes: %w", maxLineLen, errSyntax))
		default:
			key, aerr := add(string(bytes.TrimRight(raw, "\r\n")))
			if aerr != nil {
				warn(n, aerr)
				break
			}
			if key == "" {
				break
			}
			if first, ok := seen[key]; ok {
				warn(n, fmt.Errorf("pattern %s also on line %d; this line wins", key, first))
			} else {
				seen[key] = n
			}
		}
		if err != nil {
			break
		}
	}
	if dropped > 0 {
		warnings = append(warnings, &LineError{Path: path, Line: 0,
			Err: fmt.Errorf("%d more malformed lines not reported", dropped)})
	}
	return warnings, nil
}
