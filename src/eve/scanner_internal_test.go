package eve

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
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

// TestSlotCapacity checks that a string hashes to the same cache slot
// whether or not bytes follow it in memory.
func TestSlotCapacity(t *testing.T) {
	line := []byte(`"A","UDP","to_server","02:00:00:00:00:01"`)
	for i := range line {
		for j := i; j <= len(line); j++ {
			b := line[i:j]
			if got, want := slot(b), slot([]byte(string(b))[:len(b):len(b)]); got != want {
				t.Fatalf("slot(%q) = %d with capacity %d, %d without", b, got, cap(b), want)
			}
		}
	}
}

// TestDigits checks the word-at-a-time number reading against strconv, for
// numbers of every length up to the limit, followed by every kind of byte.
func TestDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var num []byte
		for range 1 + rng.IntN(20) {
			num = append(num, byte('0'+rng.IntN(10)))
		}
		for _, after := range []string{"", ",", "}", "]", " ", ".5", "e3", "-", "x", "\xff", "\xfa9", ",\"a\":1234567890123456789"} {
			line := append(append([]byte(nil), num...), after...)
			for len(line) < 24 && rng.IntN(2) == 0 {
				line = append(line, ' ')
			}
			s := scanner{data: line}
			n, ok := s.digits()
			want, err := strconv.ParseUint(string(num), 10, 64)
			wantOK := err == nil && len(num) <= 18 && (after == "" || !strings.ContainsRune("0123456789-+.eE", rune(after[0])))
			if ok != wantOK || ok && (n != want || s.pos != len(num)) {
				t.Fatalf("digits(%q) = %d, %v, pos %d; want %d, %v", line, n, ok, s.pos, want, wantOK)
			}
		}
	}
}
