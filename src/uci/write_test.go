package uci_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/uci"
)

func TestWriteCanonical(t *testing.T) {
	in := `# pakon settings
package pakon

config monitor 'monitor'
	# the LAN bridge
	list interface br-lan
	option mode "filter" # trailing comments are dropped


	# note, after two blank lines
	option note 'it'\''s'

	option blank before
# rules
config archive_rule
	option up_to 1d
# the end
`
	want := `# pakon settings

config monitor 'monitor'
	# the LAN bridge
	list interface 'br-lan'
	option mode 'filter'

	# note, after two blank lines
	option note 'it'\''s'

	option blank 'before'

# rules
config archive_rule
	option up_to '1d'

# the end
`
	f := mustRead(t, in)
	var b bytes.Buffer
	n, err := f.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// Canonical text is a fixed point.
	again, err := mustRead(t, b.String()).Bytes()
	if err != nil || string(again) != want {
		t.Errorf("second write differs (err %v):\n%s", err, again)
	}
}

func TestRoundTripValues(t *testing.T) {
	values := []string{
		"", "plain", "with space", "it's", "''", `\`, `\'`, `"dq"`, "#hash", "semi;colon",
		"new\nline", "tab\there", "trailing\\", "Kája 🙂", "\r\n", " lead", "trail ",
	}
	f := &uci.File{Path: "mem"}
	s := f.Add("t", "n")
	for i, v := range values {
		s.SetList("l", append(s.List("l"), v)...)
		if v != "" {
			s.Set("o"+string(rune('a'+i)), v)
		}
	}
	text, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	g := mustRead(t, string(text))
	if dump(g) != dump(f) {
		t.Errorf("round trip changed values:\n%s\nwant\n%s\ntext:\n%s", dump(g), dump(f), text)
	}
}

func TestEdit(t *testing.T) {
	f := mustRead(t, "config device\n\toption mac 'aa:bb:cc:dd:ee:ff'\n\toption name 'old'\n")
	s := f.Section("@device[0]")
	s.Set("name", "new")
	s.Set("extra", "a", "b")
	s.SetList("single", "x")
	s.Del("mac")
	s.Del("nonexistent")
	n := f.Add("device", "named")
	n.Set("name", "n1")
	n.Set("gone", "x")
	n.Set("gone", "")
	if again := f.Add("other", "named"); again != n || n.Type != "other" {
		t.Errorf("Add with an existing name made a new section or kept the type %q", n.Type)
	}
	want := "config device \"\"\n  option name [\"new\"]\n  list extra [\"a\" \"b\"]\n  list single [\"x\"]\n" +
		"config other \"named\"\n  option name [\"n1\"]\n"
	if got := dump(f); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	f.Remove(s)
	if f.Section("@device[0]") != nil || len(f.Sections) != 1 {
		t.Errorf("Remove left %d sections", len(f.Sections))
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		f    *uci.File
		want string
	}{
		{"bad name", &uci.File{Sections: []*uci.Section{{Type: "t", Name: "a-b"}}}, "invalid section name"},
		{"bad type", &uci.File{Sections: []*uci.Section{{Type: "a b"}}}, "invalid section type"},
		{"bad option", &uci.File{Sections: []*uci.Section{{Type: "t", Options: []*uci.Option{{Name: "", Values: []string{"x"}}}}}}, "invalid option name"},
		{"no value", &uci.File{Sections: []*uci.Section{{Type: "t", Options: []*uci.Option{{Name: "x"}}}}}, "has no value"},
		{"nul", &uci.File{Sections: []*uci.Section{{Type: "t", Options: []*uci.Option{{Name: "x", Values: []string{"\x00"}}}}}}, "NUL"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if _, err := tt.f.WriteTo(&b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
		if b.Len() != 0 {
			t.Errorf("%s: wrote %d bytes despite the error", tt.name, b.Len())
		}
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pakon")
	if err := os.WriteFile(path, []byte("config monitor 'monitor'\n\toption mode x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := uci.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Section("monitor").Set("mode", "filter")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "config monitor 'monitor'\n\toption mode 'filter'\n" {
		t.Errorf("saved %q", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (temp file left behind?)", len(entries))
	}

	// A new file gets 0644.
	nf := &uci.File{Path: filepath.Join(dir, "new")}
	nf.Add("x", "y")
	if err := nf.Save(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(nf.Path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("new file: %v %v, want mode 0644", st, err)
	}

	// A symlink keeps pointing at the replaced target.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	lf, err := uci.Load(link)
	if err != nil {
		t.Fatal(err)
	}
	lf.Section("monitor").Set("mode", "y")
	if err := lf.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced by a file: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(path); !strings.Contains(string(got), "'y'") {
		t.Errorf("target not updated: %q", got)
	}
}

func TestSaveInvalidLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	orig := "config a 'b'\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := uci.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Add("t", "bad name")
	if err := f.Save(); err == nil {
		t.Fatal("Save of an invalid section name succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != orig {
		t.Errorf("file changed to %q", got)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := uci.Load(filepath.Join(t.TempDir(), "none"))
	if !os.IsNotExist(err) {
		t.Errorf("error %v, want not-exist", err)
	}
}
