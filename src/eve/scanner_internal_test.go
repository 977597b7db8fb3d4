package eve

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestQuoteOrEscape checks the word-at-a-time search against a byte loop,
// with the wanted bytes at every position and next to bytes whose
// subtraction borrows (0x00, 0x01, 0x21, 0x5b) or that are not ASCII.
func TestQuoteOrEscape(t *testing.T) {
	naive := func(b []byte) int {
		if i := bytes.IndexAny(b, "\"\\"); i >= 0 {
			return i
		}
		return len(b)
	}
	cases := []string{"", "a", `"`, `\`, "abcdefg\"", "abcdefgh\"", "abcdefghijklmnop", "\x00\x01\"", "\x01\x01\x01\x01\x01\x01\x01\x01\\",
		"\x21\x23\x5b\x5d\"", "\xff\xfe\x80\"\x00", "é\"", "0123456789abcdef\\\""}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, '!', '#', '"', '\\', '[', ']', 0x80, 0xff, 'a'}
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := quoteOrEscape([]byte(c)), naive([]byte(c)); got != want {
			t.Errorf("quoteOrEscape(%q) = %d, want %d", c, got, want)
		}
	}
}
