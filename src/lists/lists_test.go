package lists_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pakon/pakon/src/lists"
)

// MustLoad writes the given list texts to files and loads them, failing
// the test on a read error. It returns the warnings.
func MustLoad(tb testing.TB, replace, ignore string) (*lists.Lists, []error) {
	tb.Helper()
	dir := tb.TempDir()
	rp := filepath.Join(dir, "domains_replace")
	ip := filepath.Join(dir, "domains_ignore")
	if err := os.WriteFile(rp, []byte(replace), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(ip, []byte(ignore), 0o600); err != nil {
		tb.Fatal(err)
	}
	l, warnings, err := lists.Load([]string{rp}, []string{ip})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return l, warnings
}

const testReplace = `# test list
google.com            google.com
googlevideo.com       youtube.com
ytimg.com             youtube.com
fbcdn.net             facebook.com
mail.google.com       gmail.com
=www.example.org      example.org
static.example.org    -
example.org           example-root.org
twitter.*             twitter.com
twitter.co.uk         twitter-uk.com
bücher.de             buecher.de
xn--e1afmkfd.xn--p1ai example-rf.org
`

const testIgnore = `# test ignore list
doubleclick.net
!keep.doubleclick.net
=ocsp.example.com
googlesyndication.com
example-root.org
`

func TestDisplay(t *testing.T) {
	l, warnings := MustLoad(t, testReplace, testIgnore)
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	tests := []struct {
		observed, want string
	}{
		{"google.com", "google.com"},
		{"www.google.com", "google.com"},
		{"notgoogle.com", "notgoogle.com"},
		{"google.com.evil.net", "google.com.evil.net"},
		{"rr3---sn-2gb7sn7k.googlevideo.com", "youtube.com"},
		{"i.ytimg.com", "youtube.com"},
		{"scontent-prg1-1.xx.fbcdn.net", "facebook.com"},
		{"fbcdn.net", "facebook.com"},
		{"notfbcdn.net", "notfbcdn.net"},
		// Longest suffix wins.
		{"mail.google.com", "gmail.com"},
		{"a.mail.google.com", "gmail.com"},
		{"xmail.google.com", "google.com"},
		// Exact entry: that name only, and it beats the suffix entry.
		{"www.example.org", "example.org"},
		{"a.www.example.org", "example-root.org"},
		{"example.org", "example-root.org"},
		// "-" keeps the observed name below a merged domain.
		{"static.example.org", "static.example.org"},
		{"img.static.example.org", "img.static.example.org"},
		// Wildcard top-level domain.
		{"twitter.com", "twitter.com"},
		{"twitter.cz", "twitter.com"},
		{"api.twitter.de", "twitter.com"},
		{"twitter", "twitter"},
		{"twitter.co.uk", "twitter-uk.com"},
		{"nottwitter.cz", "nottwitter.cz"},
		{"twitter.cz.evil.net", "twitter.cz.evil.net"},
		// Case and trailing dot.
		{"WWW.Google.COM.", "google.com"},
		{"Unlisted.Example.NET.", "unlisted.example.net"},
		// IP literals: shown as is, never merged.
		{"192.0.2.1", "192.0.2.1"},
		{"2001:DB8::1", "2001:DB8::1"},
		{"[2001:db8::1]", "[2001:db8::1]"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		// Punycode: a Unicode pattern matches the ASCII name, and a
		// Unicode observed name matches too.
		{"www.xn--bcher-kva.de", "buecher.de"},
		{"www.BÜCHER.de", "buecher.de"},
		{"shop.пример.рф", "example-rf.org"},
		{"xn--e1afmkfd.xn--p1ai", "example-rf.org"},
		{"xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},
		// Empty and odd names.
		{"", ""},
		{".", ""},
		{"com", "com"},
		{"..google.com", "google.com"},
		{"a b.google.com", "google.com"},
	}
	for _, tt := range tests {
		if got := l.Display(tt.observed); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", tt.observed, got, tt.want)
		}
	}
}

func TestIgnored(t *testing.T) {
	l, warnings := MustLoad(t, testReplace, testIgnore)
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	tests := []struct {
		observed string
		want     bool
	}{
		{"doubleclick.net", true},
		{"ad.doubleclick.net", true},
		{"notdoubleclick.net", false},
		{"keep.doubleclick.net", false},
		{"a.keep.doubleclick.net", false},
		{"ocsp.example.com", true},
		{"a.ocsp.example.com", false},
		{"OCSP.Example.COM.", true},
		// Matched through the replaced name: example.org → example-root.org.
		{"example.org", true},
		{"cdn.example.org", true},
		{"www.example.org", false},
		{"static.example.org", false},
		{"www.google.com", false},
		{"pagead2.googlesyndication.com", true},
		{"192.0.2.1", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := l.Ignored(tt.observed); got != tt.want {
			t.Errorf("Ignored(%q) = %v, want %v", tt.observed, got, tt.want)
		}
		display, ignored := l.Lookup(tt.observed)
		if display != l.Display(tt.observed) || ignored != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.observed, display, ignored, l.Display(tt.observed), tt.want)
		}
	}
}

// An IP literal is never ignored, even if the ignore list could match
// part of it: such patterns are rejected.
func TestIPPatternsRejected(t *testing.T) {
	_, warnings := MustLoad(t, "192.0.2.1 example.com\n2.1 example.com\nexample.com 192.0.2.1\n", "192.0.2.1\n1.1\n::1\n")
	if len(warnings) != 6 {
		t.Fatalf("got %d warnings, want 6: %v", len(warnings), warnings)
	}
}

func TestPaKonFormat(t *testing.T) {
	const pakon = `{
"facebook.com": "facebook.com"
"fbstatic-a.akamaihd.net": "facebook.com",
".fbcdn.net": "facebook.com"
"fbcdn-": "facebook.com"
".whatsapp.": "whatsapp.com"
"twitter.": "twitter.com"
".google.": "google.com"   # PaKon's "any top-level domain"
  "twimg.com" :"twitter.com" ,
"YouTube.": "YouTube.com"
}
`
	l, warnings := MustLoad(t, pakon, "")
	if len(warnings) != 1 {
		t.Fatalf("got %d warnings, want 1 (fbcdn-): %v", len(warnings), warnings)
	}
	var le *lists.LineError
	if !errors.As(warnings[0], &le) || le.Line != 5 || !strings.Contains(le.Error(), "domains_replace:5:") {
		t.Errorf("warning = %v, want a *LineError for domains_replace:5", warnings[0])
	}
	tests := []struct {
		observed, want string
	}{
		{"www.facebook.com", "facebook.com"},
		{"notfacebook.com", "notfacebook.com"},
		{"facebook.com.evil.net", "facebook.com.evil.net"},
		{"fbstatic-a.akamaihd.net", "facebook.com"},
		{"other.akamaihd.net", "other.akamaihd.net"},
		{"fbcdn.net", "facebook.com"},
		{"video.xx.fbcdn.net", "facebook.com"},
		{"fbcdn-video-a.akamaihd.net", "fbcdn-video-a.akamaihd.net"},
		{"mmg.whatsapp.net", "whatsapp.com"},
		{"whatsapp.com", "whatsapp.com"},
		{"notwhatsapp.net", "notwhatsapp.net"},
		{"mobile.twitter.com", "twitter.com"},
		{"www.google.cz", "google.com"},
		{"google.co.uk", "google.co.uk"},
		{"notgoogle.com", "notgoogle.com"},
		{"pbs.twimg.com", "twitter.com"},
		{"m.youtube.de", "youtube.com"},
	}
	for _, tt := range tests {
		if got := l.Display(tt.observed); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", tt.observed, got, tt.want)
		}
	}
}

func TestMalformedLines(t *testing.T) {
	tests := []struct {
		name, replace, ignore string
		line                  int
		contains              string
	}{
		{"one field", "example.com\n", "", 1, "fields"},
		{"three fields", "\n\nexample.com a.com b.com\n", "", 3, "fields"},
		{"bad label", "exa$mple.com a.com\n", "", 1, "character"},
		{"empty label", "example..com a.com\n", "", 1, "empty label"},
		{"hyphen", "-example.com a.com\n", "", 1, "starts or ends"},
		{"long label", strings.Repeat("a", 64) + ".com a.com\n", "", 1, "more than 63"},
		{"bad replacement", "example.com a$b\n", "", 1, "replacement"},
		{"wildcard replacement", "example.com a.*\n", "", 1, "replacement"},
		{"inner wildcard", "a.*.com a.com\n", "", 1, "character"},
		{"bare wildcard", "* a.com\n", "", 1, "character"},
		{"pakon unterminated", "\"example.com: \"a.com\"\n", "", 1, "syntax"},
		{"pakon no colon", "\"example.com\" \"a.com\"\n", "", 1, "syntax"},
		{"pakon trailing", "\"example.com\": \"a.com\" x\n", "", 1, "syntax"},
		{"pakon dot only", "\".\": \"a.com\"\n", "", 1, "empty"},
		{"ignore two fields", "", "a.com b.com\n", 1, "fields"},
		{"ignore bad", "", "# c\na_b.com\nbad!.com\n", 3, "character"},
		{"ignore empty exception", "", "!\n", 1, "empty"},
		{"duplicate", "a.com b.com\na.com c.com\n", "", 2, "also on line 1"},
		{"long line", strings.Repeat("x", 5000) + "\n", "", 1, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings := MustLoad(t, tt.replace, tt.ignore)
			if len(warnings) != 1 {
				t.Fatalf("got %d warnings, want 1: %v", len(warnings), warnings)
			}
			var le *lists.LineError
			if !errors.As(warnings[0], &le) {
				t.Fatalf("warning %v is no *LineError", warnings[0])
			}
			if le.Line != tt.line || !strings.Contains(le.Error(), tt.contains) {
				t.Errorf("warning = %q (line %d), want line %d containing %q", le.Error(), le.Line, tt.line, tt.contains)
			}
		})
	}
}

func TestLineEndingsAndBOM(t *testing.T) {
	l, warnings := MustLoad(t, "\ufeffa.com\tb.com\r\nc.com d.com", "\ufeffe.com\r\n")
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	if got := l.Display("x.a.com"); got != "b.com" {
		t.Errorf("Display(x.a.com) = %q, want b.com", got)
	}
	if got := l.Display("c.com"); got != "d.com" {
		t.Errorf("Display(c.com) = %q, want d.com (last line without newline)", got)
	}
	if !l.Ignored("e.com") {
		t.Error("e.com not ignored")
	}
}

func TestWarningsBounded(t *testing.T) {
	_, warnings := MustLoad(t, strings.Repeat("bad\n", 1000), "")
	if len(warnings) != 51 {
		t.Fatalf("got %d warnings, want 50 and a summary", len(warnings))
	}
	if last := warnings[len(warnings)-1].Error(); !strings.Contains(last, "950 more") {
		t.Errorf("summary = %q, want 950 more", last)
	}
}

// A later file overrides an earlier one, within each list.
func TestLaterFileWins(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shipped := write("shipped", "ytimg.com youtube.com\nfbcdn.net facebook.com\n")
	user := write("user", "ytimg.com -\nfbcdn.net meta.com\n")
	ign1 := write("ign1", "example.com\n")
	ign2 := write("ign2", "!example.com\n")
	l, warnings, err := lists.Load([]string{shipped, user}, []string{ign1, ign2})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Load: %v, %v", err, warnings)
	}
	if got := l.Display("i.ytimg.com"); got != "i.ytimg.com" {
		t.Errorf("Display(i.ytimg.com) = %q, want it kept", got)
	}
	if got := l.Display("x.fbcdn.net"); got != "meta.com" {
		t.Errorf("Display(x.fbcdn.net) = %q, want meta.com", got)
	}
	if l.Ignored("example.com") {
		t.Error("example.com ignored despite the later exception")
	}
	if r, i := l.Len(); r != 2 || i != 1 {
		t.Errorf("Len() = %d, %d; want 2, 1", r, i)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := lists.Load([]string{filepath.Join(t.TempDir(), "nope")}, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestNilLists(t *testing.T) {
	var l *lists.Lists
	if got := l.Display("WWW.Example.com."); got != "www.example.com" {
		t.Errorf("nil Display = %q", got)
	}
	if l.Ignored("example.com") {
		t.Error("nil Ignored = true")
	}
	if r, i := l.Len(); r != 0 || i != 0 {
		t.Errorf("nil Len = %d, %d", r, i)
	}
}

func TestUnicode(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"www.xn--bcher-kva.de", "www.bücher.de"},
		{"XN--BCHER-KVA.de", "bücher.de"},
		{"xn--e1afmkfd.xn--p1ai", "пример.рф"},
		{"example.com", "example.com"},
		{"a--b.example.com", "a--b.example.com"},
		{"xn--.com", "xn--.com"},
		{"xn--bcher-kv.de", "xn--bcher-kv.de"}, // truncated: kept
		{"xn--abc-.de", "xn--abc-.de"},         // ASCII only: kept
		{"xn--ls8h.la", "💩.la"},                // plain symbol is fine
		{"xn--ab-g1t.com", "xn--ab-g1t.com"},   // zero-width space: kept
		{"xn--ab-qa.com", "xn--ab-qa.com"},     // C1 control: kept
		{"xn--xy-r13a.com", "xn--xy-r13a.com"}, // ideographic full stop: kept
		{"xn--n3h.example", "☃.example"},       // snowman
		{"xn--zca.xn--zca", "ß.ß"},             // every label
		{"", ""},
	}
	for _, tt := range tests {
		if got := lists.Unicode(tt.in); got != tt.want {
			t.Errorf("Unicode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	l, _ := MustLoad(t, testReplace, testIgnore)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if l.Display("a.fbcdn.net") != "facebook.com" || !l.Ignored("x.doubleclick.net") {
					t.Error("wrong result under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkDisplay(b *testing.B) {
	l, warnings, err := lists.Load([]string{"../../lists/domains_replace"}, []string{"../../lists/domains_ignore"})
	if err != nil || len(warnings) != 0 {
		b.Fatalf("Load: %v, %v", err, warnings)
	}
	names := []string{
		"scontent-prg1-1.xx.fbcdn.net",
		"rr3---sn-2gb7sn7k.googlevideo.com",
		"www.example.com",
		"a.b.c.d.e.f.example.net",
		"192.0.2.1",
		"Mixed.Case.Example.ORG.",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = l.Display(names[i%len(names)])
		i++
	}
}

func BenchmarkLookup(b *testing.B) {
	l, _, err := lists.Load([]string{"../../lists/domains_replace"}, []string{"../../lists/domains_ignore"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = l.Lookup("scontent-prg1-1.xx.fbcdn.net")
	}
}
