package uci_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/uci"
)

// dump renders the data of f compactly: one line per section and option.
func dump(f *uci.File) string {
	var b strings.Builder
	for _, s := range f.Sections {
		fmt.Fprintf(&b, "config %s %q\n", s.Type, s.Name)
		for _, o := range s.Options {
			kw := "option"
			if o.IsList {
				kw = "list"
			}
			fmt.Fprintf(&b, "  %s %s %q\n", kw, o.Name, o.Values)
		}
	}
	return b.String()
}

func mustRead(t *testing.T, text string) *uci.File {
	t.Helper()
	f, err := uci.Read(strings.NewReader(text), "test")
	if err != nil {
		t.Fatalf("Read(%q): %v", text, err)
	}
	return f
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"comments only", "# a\n\n  # b\n", ""},
		{"package ignored", "package pakon\nconfig monitor 'monitor'\n", "config monitor \"monitor\"\n"},
		{"anonymous", "config archive_rule\n\toption up_to 1d\n",
			"config archive_rule \"\"\n  option up_to [\"1d\"]\n"},
		{"empty name is anonymous", "config x ''\n", "config x \"\"\n"},
		{"bare, single, double", "config t n\n option a bare\n option b 'single q'\n option c \"double q\"\n",
			"config t \"n\"\n  option a [\"bare\"]\n  option b [\"single q\"]\n  option c [\"double q\"]\n"},
		{"concatenated quote escape", `config t
	option a 'it'\''s'
`, "config t \"\"\n  option a [\"it's\"]\n"},
		{"backslash in single quotes is literal", `config t
	option a 'a\b'
`, "config t \"\"\n  option a [\"a\\\\b\"]\n"},
		{"double quote escapes", `config t
	option a "say \"hi\" \\ \n"
`, "config t \"\"\n  option a [\"say \\\"hi\\\" \\\\ n\"]\n"},
		{"bare backslash escapes", `config t
	option a foo\ bar\#x
`, "config t \"\"\n  option a [\"foo bar#x\"]\n"},
		{"mixed concatenation", `config t
	option a pre'mid dle'"post"
`, "config t \"\"\n  option a [\"premid dlepost\"]\n"},
		{"hash inside quotes", "config t\n option a 'x # y'\n", "config t \"\"\n  option a [\"x # y\"]\n"},
		{"trailing comment", "config t # c\n option a b # c\n option c d#e\n",
			"config t \"\"\n  option a [\"b\"]\n  option c [\"d\"]\n"},
		{"semicolons", "config t n; option a 1; list b 2\n", "config t \"n\"\n  option a [\"1\"]\n  list b [\"2\"]\n"},
		{"semicolon in quotes", "config t\n option a 'x;y'\n", "config t \"\"\n  option a [\"x;y\"]\n"},
		{"abbreviations", "c t n\no a 1\nl b 2\n", "config t \"n\"\n  option a [\"1\"]\n  list b [\"2\"]\n"},
		{"list merges", "config t\n list i a\n option x y\n list i b\n",
			"config t \"\"\n  list i [\"a\" \"b\"]\n  option x [\"y\"]\n"},
		{"list after option", "config t\n option i a\n list i b\n", "config t \"\"\n  list i [\"a\" \"b\"]\n"},
		{"option after list", "config t\n list i a\n list i b\n option i c\n", "config t \"\"\n  option i [\"c\"]\n"},
		{"option redefined", "config t\n option i a\n option i b\n", "config t \"\"\n  option i [\"b\"]\n"},
		{"empty option deleted", "config t\n option i a\n option i ''\n option j\n", "config t \"\"\n"},
		{"empty list item kept", "config t\n list i ''\n", "config t \"\"\n  list i [\"\"]\n"},
		{"multi-line single quote", "config t\n option a 'x\ny'\n option b c\n",
			"config t \"\"\n  option a [\"x\\ny\"]\n  option b [\"c\"]\n"},
		{"line continuation", "config t\n option a \\\n  b\n", "config t \"\"\n  option a [\"b\"]\n"},
		{"continuation in double quotes", "config t\n option a \"x\\\ny\"\n", "config t \"\"\n  option a [\"xy\"]\n"},
		{"crlf", "config t 'n'\r\n\toption a 'b'\r\n", "config t \"n\"\n  option a [\"b\"]\n"},
		{"reopened section", "config a n\n option x 1\nconfig b m\nconfig c n\n option y 2\n",
			"config c \"n\"\n  option x [\"1\"]\n  option y [\"2\"]\nconfig b \"m\"\n"},
		{"type with punctuation", "config 'odd-type.x'\n", "config odd-type.x \"\"\n"},
		{"utf-8 value", "config t\n option name 'Kája'\n", "config t \"\"\n  option name [\"Kája\"]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustRead(t, tt.in)
			if got := dump(f); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"option outside section", "# c\noption a b\n", "f:2: option outside a section"},
		{"list outside section", "list a b\n", "f:1: list outside a section"},
		{"unknown keyword", "config t\n\toptoin a b\n", `f:2: unknown keyword "optoin"`},
		{"unterminated single", "config t\n option a 'x\n\n", "f:2: unterminated ' quote"},
		{"unterminated double", "config t\n\n option a \"x\n", `f:3: unterminated " quote`},
		{"config without type", "config\n", "f:1: config without a type"},
		{"too many config words", "config a b c\n", "f:1: too many words after config"},
		{"bad section name", "config a 'b-c'\n", `f:1: invalid section name "b-c"`},
		{"bad option name", "config a\n option 'x y' 1\n", `f:2: invalid option name "x y"`},
		{"unquoted space in value", "config a\n option x a b\n", "f:2: too many words after option"},
		{"option without name", "config a\n option\n", "f:2: option without a name"},
		{"package without name", "package\n", "f:1: package wants one name"},
		{"nul byte", "config a\n\n option x '\x00'\n", "f:3: NUL byte"},
		{"line counted through multi-line value", "config a\n option x 'l1\nl2\nl3'\n bogus\n", `f:5: unknown keyword "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := uci.Read(strings.NewReader(tt.in), "f")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var pe *uci.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestLineNumbers(t *testing.T) {
	f := mustRead(t, "# head\n\nconfig monitor 'monitor'\n\tlist interface 'br-lan'\n\n\tlist interface 'br-guest'\n\toption mode x\n")
	s := f.Section("monitor")
	if s == nil || s.Line != 3 {
		t.Fatalf("section = %+v, want line 3", s)
	}
	o := s.Option("interface")
	if o.Line != 4 || fmt.Sprint(o.Lines) != "[4 6]" {
		t.Errorf("interface Line %d Lines %v, want 4 [4 6]", o.Line, o.Lines)
	}
	if o := s.Option("mode"); o.Line != 7 {
		t.Errorf("mode line %d, want 7", o.Line)
	}
}

func TestLookup(t *testing.T) {
	f := mustRead(t, `
config archive 'archive'
	option keep 4w
config archive_rule
	option up_to 1d
config archive_rule
	option up_to 3d
config archive_rule
	option up_to 7d
	list x a
	list x b
`)
	tests := []struct {
		ref  string
		want string // up_to of the section, "-" for nil
	}{
		{"@archive_rule[0]", "1d"},
		{"@archive_rule[2]", "7d"},
		{"@archive_rule[-1]", "7d"},
		{"@archive_rule[-3]", "1d"},
		{"@archive_rule[3]", "-"},
		{"@archive_rule[-4]", "-"},
		{"@nope[0]", "-"},
		{"@archive_rule[x]", "-"},
		{"", "-"},
		{"archive", ""},
		{"@archive[0]", ""},
	}
	for _, tt := range tests {
		s := f.Section(tt.ref)
		got := "-"
		if s != nil {
			got, _ = s.Get("up_to")
		}
		if got != tt.want {
			t.Errorf("Section(%q) up_to = %q, want %q", tt.ref, got, tt.want)
		}
	}
	if n := len(f.SectionsOfType("archive_rule")); n != 3 {
		t.Errorf("SectionsOfType = %d sections, want 3", n)
	}
	last := f.Section("@archive_rule[-1]")
	if v, ok := last.Get("x"); !ok || v != "b" {
		t.Errorf("Get(list) = %q, %v; want last value b", v, ok)
	}
	if l := last.List("x"); fmt.Sprint(l) != "[a b]" {
		t.Errorf("List = %v", l)
	}
	if l := last.List("up_to"); fmt.Sprint(l) != "[7d]" {
		t.Errorf("List(option) = %v", l)
	}
	if _, ok := last.Get("missing"); ok {
		t.Error("Get(missing) ok")
	}
	if l := last.List("missing"); l != nil {
		t.Errorf("List(missing) = %v", l)
	}
}
