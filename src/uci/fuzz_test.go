package uci_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/uci"
)

// full renders sections, options and comments, everything WriteTo keeps.
func full(f *uci.File) string {
	var b strings.Builder
	for _, s := range f.Sections {
		fmt.Fprintf(&b, "config %q %q %q\n", s.Type, s.Name, s.Comments)
		for _, o := range s.Options {
			fmt.Fprintf(&b, "  %q list=%v %q %q\n", o.Name, o.IsList, o.Values, o.Comments)
		}
	}
	fmt.Fprintf(&b, "trailer %q\n", f.Trailer)
	return b.String()
}

// FuzzParse checks that parse never panics and that whatever parses comes
// back unchanged through WriteTo and Read.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"config monitor 'monitor'\n\tlist interface 'br-lan'\n",
		"config t\n\toption a 'it'\\''s'\n",
		"c t n; o a \"x\\\"y\"; l b 'q'\n",
		"# c\n\nconfig t\n\t# d\n\toption a b\n# e\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := uci.Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := a.WriteTo(&out); err != nil {
			t.Fatalf("WriteTo of parsed input: %v", err)
		}
		b, err := uci.Read(bytes.NewReader(out.Bytes()), "fuzz")
		if err != nil {
			t.Fatalf("re-read of written text: %v\ntext:\n%s", err, out.Bytes())
		}
		if full(a) != full(b) {
			t.Fatalf("round trip changed the file\nbefore:\n%s\nafter:\n%s\ntext:\n%s", full(a), full(b), out.Bytes())
		}
	})
}
