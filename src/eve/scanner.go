package eve

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds nesting in skipped values so a hostile line cannot blow the stack.
const maxDepth = 64

// scanner is a minimal JSON reader over one line. It reads only what the
// decoder asks for and skips the rest without allocating; EVE lines carry
// many fields pakon does not need.
type scanner struct {
	data    []byte
	pos     int
	scratch []byte // unescaped string contents; reused between strings
}

type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.pos, e.msg) }

func (s *scanner) errorf(format string, args ...any) error {
	return &syntaxError{pos: s.pos, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) ws() {
	// Suricata writes no whitespace between tokens: one compare, inlined.
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return
	}
	s.wsSlow()
}

func (s *scanner) wsSlow() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return nil
	}
	return s.expectSlow(c)
}

// expectSlow is kept out of line, so that expect is inlined.
//
//go:noinline
func (s *scanner) expectSlow(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end of line, want %q", c)
		}
		return s.errorf("want %q, got %q", c, s.data[s.pos])
	}
	s.pos++
	return nil
}

// object walks the members of an object; fn is called with each key (valid
// only during the call) and must consume the member's value.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if s.pos < len(s.data) && s.data[s.pos] == ':' {
			s.pos++
		} else if err := s.expectSlow(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		case 0:
			return s.errorf("unexpected end of line in object")
		default:
			return s.errorf("want ',' or '}', got %q", s.data[s.pos])
		}
	}
}

// array walks the elements of an array; fn must consume each element.
func (s *scanner) array(fn func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		case 0:
			return s.errorf("unexpected end of line in array")
		default:
			return s.errorf("want ',' or ']', got %q", s.data[s.pos])
		}
	}
}

// Eight copies of a byte, for quoteOrEscape.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	slashs = '\\' * ones
)

// quoteOrEscape returns the index of the first '"' or '\\' in b, or len(b).
// It tests eight bytes at a time (a word with a zero byte where b has
// either): most strings in EVE are a few words long, and one pass for both
// bytes beats two vector searches of them.
func quoteOrEscape(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, e := x^quotes, x^slashs
		// A byte's high bit is set where it was zero; a borrow can only
		// mark bytes above a zero one, so the lowest mark is exact.
		if m := ((q-ones)&^q | (e-ones)&^e) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return len(b)
}

// rawString reads a string and returns its contents, unescaped. The result
// aliases the input or the scratch buffer: copy it to keep it. Control
// characters are accepted: Suricata escapes them, and refusing a line for
// one would lose an event over nothing.
func (s *scanner) rawString() ([]byte, error) {
	// expect, by hand: it is too big to be inlined.
	if s.pos < len(s.data) && s.data[s.pos] == '"' {
		s.pos++
	} else if err := s.expectSlow('"'); err != nil {
		return nil, err
	}
	start := s.pos
	rest := s.data[start:]
	i := quoteOrEscape(rest)
	switch {
	case i == len(rest):
		s.pos = len(s.data)
		return nil, s.errorf("unterminated string")
	case rest[i] == '\\':
		s.pos = start + i
		return s.escapedString(start)
	}
	s.pos = start + i + 1
	return rest[:i], nil
}

func (s *scanner) escapedString(start int) ([]byte, error) {
	s.scratch = append(s.scratch[:0], s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.scratch, nil
		case c != '\\':
			s.scratch = append(s.scratch, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return nil, s.errorf("unterminated escape")
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			s.scratch = append(s.scratch, e)
		case 'b':
			s.scratch = append(s.scratch, '\b')
		case 'f':
			s.scratch = append(s.scratch, '\f')
		case 'n':
			s.scratch = append(s.scratch, '\n')
		case 'r':
			s.scratch = append(s.scratch, '\r')
		case 't':
			s.scratch = append(s.scratch, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if r >= 0xd800 && r < 0xdc00 && s.pos+6 <= len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
				s.pos += 2
				lo, err := s.hex4()
				if err != nil {
					return nil, err
				}
				if lo >= 0xdc00 && lo < 0xe000 {
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
				} else {
					r = utf8.RuneError
				}
			}
			s.scratch = utf8.AppendRune(s.scratch, r)
		default:
			return nil, s.errorf("invalid escape \\%c", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		return 0, s.errorf("short \\u escape")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, s.errorf("invalid \\u escape")
		}
	}
	s.pos += 4
	return r, nil
}

// str reads a string value into a Go string. Invalid UTF-8 (Suricata copies
// some protocol bytes verbatim) is replaced by U+FFFD so that everything
// pakon stores and prints is valid text. null reads as "".
func (s *scanner) str() (string, error) {
	if s.peek() == 'n' {
		return "", s.null()
	}
	b, err := s.rawString()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return string(bytesToValidUTF8(b)), nil
	}
	return string(b), nil
}

func bytesToValidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

func (s *scanner) null() error {
	if s.pos+4 <= len(s.data) && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return nil
	}
	return s.errorf("invalid literal")
}

// number returns the raw bytes of a number token.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.pos++
			continue
		}
		break
	}
	if start == s.pos {
		if s.pos >= len(s.data) {
			return nil, s.errorf("unexpected end of line, want a number")
		}
		return nil, s.errorf("want a number, got %q", s.data[s.pos])
	}
	return s.data[start:s.pos], nil
}

// uint reads a non-negative integer; null reads as 0. Fast path for plain
// digits.
func (s *scanner) uint() (uint64, error) {
	if s.peek() == 'n' {
		return 0, s.null()
	}
	b, err := s.number()
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<64-1)/10-1 {
			v, err := strconv.ParseUint(string(b), 10, 64)
			if err != nil {
				return 0, s.errorf("want an unsigned integer, got %q", b)
			}
			return v, nil
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

func (s *scanner) int() (int64, error) {
	if s.peek() == 'n' {
		return 0, s.null()
	}
	b, err := s.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, s.errorf("want an integer, got %q", b)
	}
	return v, nil
}

func (s *scanner) boolean() (bool, error) {
	s.ws()
	switch {
	case s.pos+4 <= len(s.data) && string(s.data[s.pos:s.pos+4]) == "true":
		s.pos += 4
		return true, nil
	case s.pos+5 <= len(s.data) && string(s.data[s.pos:s.pos+5]) == "false":
		s.pos += 5
		return false, nil
	}
	return false, s.errorf("want true or false")
}

// skip consumes any value. Containers are skipped by a byte scan that only
// tracks nesting and strings (Suricata nests whole protocol records the
// decoder does not read, e.g. "tcp" or "ja3"), falling back to the full
// tokenizer to report an error when the scan finds something off.
func (s *scanner) skip() error {
	switch s.peek() {
	case '{', '[':
		if s.fastSkip() {
			return nil
		}
	}
	return s.skipDepth(0)
}

// fastSkip skips a balanced container starting at s.pos. It returns false,
// leaving s.pos unchanged, when the container is unbalanced, truncated or
// too deep; the caller then reports the error with the exact tokenizer.
func (s *scanner) fastSkip() bool {
	depth := 0
	data := s.data
	for i := s.pos; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			if depth++; depth > maxDepth {
				return false
			}
		case '}', ']':
			if depth--; depth == 0 {
				s.pos = i + 1
				return true
			}
		case '"':
			// Find the closing quote, not escaped by an odd number of
			// backslashes.
			for {
				j := bytes.IndexByte(data[i+1:], '"')
				if j < 0 {
					return false
				}
				i += j + 1
				n := 0
				for k := i - 1; data[k] == '\\'; k-- {
					n++
				}
				if n%2 == 0 {
					break
				}
			}
		}
	}
	return false
}

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return s.errorf("nesting deeper than %d", maxDepth)
	}
	switch c := s.peek(); c {
	case '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case '[':
		return s.array(func() error { return s.skipDepth(depth + 1) })
	case '"':
		// Skip without unescaping: find a quote not escaped by an odd
		// number of backslashes.
		s.pos++
		for {
			i := bytes.IndexByte(s.data[s.pos:], '"')
			if i < 0 {
				s.pos = len(s.data)
				return s.errorf("unterminated string")
			}
			q := s.pos + i
			n := 0
			for j := q - 1; j >= s.pos && s.data[j] == '\\'; j-- {
				n++
			}
			s.pos = q + 1
			if n%2 == 0 {
				return nil
			}
		}
	case 't', 'f':
		_, err := s.boolean()
		return err
	case 'n':
		return s.null()
	case 0:
		return s.errorf("unexpected end of line, want a value")
	default:
		_, err := s.number()
		return err
	}
}
