package lists

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the list parser as a replace file and
// as an ignore file, then looks up a name. Seeds are in
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("fbcdn.net facebook.com\n\"twitter.\": \"twitter.com\",\n"), []byte("doubleclick.net\n!a.doubleclick.net\n"), "x.fbcdn.net")
	f.Fuzz(func(t *testing.T, replace, ignore []byte, name string) {
		l := newLists()
		lines := bytes.Count(replace, []byte("\n")) + 1
		warnings, err := read(bytes.NewReader(replace), "r", l.addReplaceLine)
		if err != nil {
			t.Fatalf("read from memory: %v", err)
		}
		checkWarnings(t, warnings, lines)
		lines = bytes.Count(ignore, []byte("\n")) + 1
		warnings, err = read(bytes.NewReader(ignore), "i", l.addIgnoreLine)
		if err != nil {
			t.Fatalf("read from memory: %v", err)
		}
		checkWarnings(t, warnings, lines)

		// Every stored pattern and replacement is a valid name.
		for _, m := range []map[string]string{l.replace.suffix, l.replace.exact, l.replace.wild} {
			for p, r := range m {
				if err := checkDomain(p, false); err != nil {
					t.Fatalf("stored pattern %q: %v", p, err)
				}
				if r != keep {
					if err := checkDomain(r, false); err != nil {
						t.Fatalf("stored replacement %q: %v", r, err)
					}
				}
			}
		}

		display, ignored := l.Lookup(name)
		key, ip := normalize(name)
		switch {
		case ip:
			if display != name || ignored {
				t.Fatalf("IP literal %q: Lookup = %q, %v", name, display, ignored)
			}
		case key == "":
			if display != "" || ignored {
				t.Fatalf("empty name %q: Lookup = %q, %v", name, display, ignored)
			}
		case display != key:
			if err := checkDomain(display, false); err != nil {
				t.Fatalf("Display(%q) = %q, not the name nor a valid replacement: %v", name, display, err)
			}
		}
		if display != l.Display(name) || ignored != l.Ignored(name) {
			t.Fatalf("Lookup(%q) disagrees with Display/Ignored", name)
		}
		_ = Unicode(display)
	})
}

func checkWarnings(t *testing.T, warnings []error, lines int) {
	t.Helper()
	if len(warnings) > maxWarnings+1 {
		t.Fatalf("%d warnings, more than %d", len(warnings), maxWarnings+1)
	}
	for _, w := range warnings {
		var le *LineError
		if !errors.As(w, &le) {
			t.Fatalf("warning %v is no *LineError", w)
		}
		if le.Line < 0 || le.Line > lines {
			t.Fatalf("warning on line %d of %d: %v", le.Line, lines, w)
		}
	}
}
