package lists

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Vectors from RFC 3492 section 7.1 and well-known country-code names.
var punyVectors = []struct {
	unicode, ascii string
}{
	{"bücher", "bcher-kva"},
	{"münchen", "mnchen-3ya"},
	{"рф", "p1ai"},
	{"пример", "e1afmkfd"},
	{"中国", "fiqs8s"},
	{"日本語", "wgv71a119e"},
	{"ü", "tda"},
	{"3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"},
	{"ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn"},
	{"他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"},
}

func TestPunyDecode(t *testing.T) {
	for _, v := range punyVectors {
		got, err := punyDecode(v.ascii)
		if err != nil {
			t.Errorf("punyDecode(%q): %v", v.ascii, err)
			continue
		}
		if string(got) != v.unicode {
			t.Errorf("punyDecode(%q) = %q, want %q", v.ascii, string(got), v.unicode)
		}
	}
}

func TestPunyEncode(t *testing.T) {
	for _, v := range punyVectors {
		got, err := punyEncode([]rune(v.unicode))
		if err != nil {
			t.Errorf("punyEncode(%q): %v", v.unicode, err)
			continue
		}
		if got != v.ascii {
			t.Errorf("punyEncode(%q) = %q, want %q", v.unicode, got, v.ascii)
		}
	}
}

func TestPunyDecodeInvalid(t *testing.T) {
	for _, in := range []string{
		"-",            // delimiter with no basic code points: '-' is no digit
		"a-!",          // not a digit
		"bcher-kv",     // truncated variable-length integer
		"99999999999",  // overflow
		"zzzzzzzzzzzz", // overflow
		"bü-kva",       // non-basic code point before the delimiter
	} {
		if got, err := punyDecode(in); err == nil {
			t.Errorf("punyDecode(%q) = %q, want error", in, string(got))
		}
	}
}

func FuzzPunycode(f *testing.F) {
	for _, v := range punyVectors {
		f.Add(v.unicode)
		f.Add(v.ascii)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Decoding arbitrary input must not panic; what decodes must
		// encode back to the same code points.
		if runes, err := punyDecode(s); err == nil {
			enc, err := punyEncode(runes)
			if err != nil {
				t.Fatalf("encode of decoded %q: %v", s, err)
			}
			again, err := punyDecode(enc)
			if err != nil || string(again) != string(runes) {
				t.Fatalf("round trip %q → %q → %q (%v)", s, enc, string(again), err)
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		enc, err := punyEncode([]rune(s))
		if err != nil {
			return
		}
		dec, err := punyDecode(enc)
		if err != nil {
			// Encoding an all-ASCII string gives "s-", whose decoding
			// holds no extended code points and is valid; anything else
			// must round-trip.
			t.Fatalf("decode of encoded %q (%q): %v", s, enc, err)
		}
		if string(dec) != s {
			t.Fatalf("round trip %q → %q → %q", s, enc, string(dec))
		}
		if strings.ContainsFunc(enc, func(r rune) bool { return r >= utf8.RuneSelf }) {
			t.Fatalf("encoding of %q is not ASCII: %q", s, enc)
		}
	})
}
