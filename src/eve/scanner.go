package eve

import (
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

// quoted tells whether the next byte is a quote, with no space before it:
// the usual start of a value, checked in line before calls to isNull.
func (s *scanner) quoted() bool {
	p := s.pos
	return p < len(s.data) && s.data[p] == '"'
}

// isNull tells whether the next value is null (it starts with 'n'); a
// string's quote, the usual answer, is checked first.
func (s *scanner) isNull() bool {
	if s.pos < len(s.data) && s.data[s.pos] == '"' {
		return false
	}
	return s.peek() == 'n'
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// consume consumes c when it is the next byte, with no space before it:
// expect's common case, in line where expect is not.
func (s *scanner) consume(c byte) bool {
	if p := s.pos; p < len(s.data) && s.data[p] == c {
		s.pos = p + 1
		return true
	}
	return false
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

// member steps to an object's next member, after its '{' (first) or its
// previous member's value: it returns the member's key (valid until the
// next string is read) with the colon consumed, or more == false after the
// closing '}'. The caller reads or skips the value. Objects are walked in
// loops by their decoders, not by callbacks: a call through a closure for
// every member cost more than reading most members.
func (s *scanner) member(first bool) (key []byte, more bool, err error) {
	// The common case in line: no space, a separator that fits, and a
	// key without escapes that ends within two words, all in a window of
	// the line whose size lets the compiler drop the bounds checks.
	p := s.pos
	if p+20 > len(s.data) {
		return s.memberSlow(first)
	}
	w := (*[20]byte)(s.data[p : p+20])
	o := 0 // the key's quote
	switch w[0] {
	case ',':
		if first {
			return s.memberSlow(first)
		}
		o = 1
	case '}':
		s.pos = p + 1
		return nil, false, nil
	case '"':
		if !first {
			return s.memberSlow(first)
		}
	default:
		return s.memberSlow(first)
	}
	if w[o] == '"' {
		k := o + 1
		m := quoteOrEscapeIn(binary.LittleEndian.Uint64(w[k : k+8]))
		if m == 0 {
			k += 8
			m = quoteOrEscapeIn(binary.LittleEndian.Uint64(w[k : k+8]))
		}
		if m != 0 {
			k += bits.TrailingZeros64(m) / 8
			if w[k] == '"' && w[k+1] == ':' {
				s.pos = p + k + 2
				return w[o+1 : k], true, nil
			}
		}
	}
	s.pos = p + o
	return s.key()
}

// memberSlow is member for the cases it does not handle in line.
func (s *scanner) memberSlow(first bool) (key []byte, more bool, err error) {
	if first {
		if s.peek() == '}' {
			s.pos++
			return nil, false, nil
		}
	} else {
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil, false, nil
		case 0:
			return nil, false, s.errorf("unexpected end of line in object")
		default:
			return nil, false, s.errorf("want ',' or '}', got %q", s.data[s.pos])
		}
	}
	return s.key()
}

// key reads a member's key and the colon after it.
func (s *scanner) key() (key []byte, more bool, err error) {
	key, err = s.rawString()
	if err != nil {
		return nil, false, err
	}
	if s.pos < len(s.data) && s.data[s.pos] == ':' {
		s.pos++
	} else if err := s.expectSlow(':'); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// element steps to an array's next element, after its '[' (first) or the
// previous element: more == false after the closing ']'. The caller reads
// or skips the element.
func (s *scanner) element(first bool) (more bool, err error) {
	if first {
		if s.peek() == ']' {
			s.pos++
			return false, nil
		}
		return true, nil
	}
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case ']':
		s.pos++
		return false, nil
	case 0:
		return false, s.errorf("unexpected end of line in array")
	default:
		return false, s.errorf("want ',' or ']', got %q", s.data[s.pos])
	}
}

// stringElement reads an array's next string, skipping elements of other
// types (after its '[' when first). ok tells that a string was read; it
// is false, with a nil error, after the closing ']'. A string cut short
// comes back with its error, as str returns it.
func (s *scanner) stringElement(first bool) (v string, ok bool, err error) {
	for ; ; first = false {
		more, err := s.element(first)
		if err != nil || !more {
			return "", false, err
		}
		if s.peek() == '"' {
			v, err := s.str()
			return v, true, err
		}
		if err := s.skip(); err != nil {
			return "", false, err
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
		if m := quoteOrEscapeIn(binary.LittleEndian.Uint64(b[i:])); m != 0 {
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

// quoteOrEscapeIn returns a word with the high bit set in each byte of x
// that is '"' or '\\' (exact for the lowest such byte only).
func quoteOrEscapeIn(x uint64) uint64 {
	q, e := x^quotes, x^slashs
	// A byte's high bit is set where it was zero; a borrow can only mark
	// bytes above a zero one, so the lowest mark is exact.
	return ((q-ones)&^q | (e-ones)&^e) & highs
}

// rawString reads a string and returns its contents, unescaped. The result
// aliases the input or the scratch buffer: copy it to keep it. Control
// characters are accepted: Suricata escapes them, and refusing a line for
// one would lose an event over nothing.
func (s *scanner) rawString() ([]byte, error) {
	// Most keys and values end within three words (MACs take 17 bytes):
	// looked for there first, in a fixed window of the line (no bounds
	// checks), without a call.
	p := s.pos
	if p+25 <= len(s.data) {
		w := (*[25]byte)(s.data[p : p+25])
		if w[0] == '"' {
			k := 1
			m := quoteOrEscapeIn(binary.LittleEndian.Uint64(w[k : k+8]))
			if m == 0 {
				k += 8
				m = quoteOrEscapeIn(binary.LittleEndian.Uint64(w[k : k+8]))
				if m == 0 {
					k += 8
					m = quoteOrEscapeIn(binary.LittleEndian.Uint64(w[k : k+8]))
				}
			}
			if m != 0 {
				k += bits.TrailingZeros64(m) / 8 & 7 // m != 0: at most 7
				if w[k] == '"' {
					s.pos = p + k + 1
					return w[1:k], nil
				}
				s.pos = p + k
				return s.escapedString(p + 1)
			}
		}
	}
	return s.rawStringSlow()
}

func (s *scanner) rawStringSlow() ([]byte, error) {
	if err := s.expect('"'); err != nil {
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
	if !s.quoted() && s.isNull() {
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

// digits reads up to 18 plain decimal digits (less than 10^18, so no
// overflow) at s.pos, when the number token there is made of nothing else;
// ok is false, and nothing consumed, for any other token. Eight digits are
// read at a time where the line has room.
func (s *scanner) digits() (n uint64, ok bool) {
	data, p := s.data, s.pos
	i := p
	if p+16 <= len(data) {
		// Up to two words of digits, in a fixed window of the line; a
		// number that ends in it ends here, longer ones in the loop.
		w := (*[16]byte)(data[p : p+16])
		k, v := digitWord(binary.LittleEndian.Uint64(w[0:8]))
		if k == 0 {
			return 0, false
		}
		if k < 8 {
			if endsNumber(w[k]) {
				s.pos = p + k
				return v, true
			}
			return 0, false
		}
		k2, v2 := digitWord(binary.LittleEndian.Uint64(w[8:16]))
		n = v*pow10[k2] + v2
		if k2 < 8 {
			if endsNumber(w[8+k2]) {
				s.pos = p + 8 + k2
				return n, true
			}
			return 0, false
		}
		i = p + 16
	}
	for ; i < len(data) && i-p < 18; i++ {
		c := data[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + uint64(c)
	}
	if i == p {
		return 0, false
	}
	if i < len(data) && !endsNumber(data[i]) {
		return 0, false
	}
	s.pos = i
	return n, true
}

// endsNumber tells whether c, after digits, ends the number token (is not
// part of it: a digit, sign, point or exponent).
func endsNumber(c byte) bool {
	switch c {
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '+', '.', 'e', 'E':
		return false
	}
	return true
}

var pow10 = [9]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}

// digitWord returns how many of x's bytes (first in memory first) are
// decimal digits before any other byte, and their value.
func digitWord(x uint64) (int, uint64) {
	// A byte is not a digit when adding 0x46 or subtracting '0' sets its
	// high bit; a carry or borrow can only come from a byte that is not a
	// digit, so the lowest mark is exact.
	d := x - 0x3030303030303030
	m := ((x + 0x4646464646464646) | d) & 0x8080808080808080
	k := bits.TrailingZeros64(m) / 8
	// The k digits as the last of eight (leading zeros), then pairs,
	// fours and the eight combined; no digits shift all out, to 0.
	v := d << (64 - 8*k)
	v = v*10 + v>>8
	v = ((v&0x000000ff000000ff)*(100+1000000<<32) + (v>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return k, v
}

// uint reads a non-negative integer; null reads as 0.
func (s *scanner) uint() (uint64, error) {
	// Fewer than eight digits, digits' first case, in line.
	if p := s.pos; p+8 <= len(s.data) {
		w := (*[8]byte)(s.data[p : p+8])
		if k, v := digitWord(binary.LittleEndian.Uint64(w[:])); k > 0 && k < 8 && endsNumber(w[k&7]) {
			s.pos = p + k
			return v, nil
		}
	}
	if n, ok := s.digits(); ok {
		return n, nil
	}
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
	if n, ok := s.digits(); ok {
		return int64(n), nil
	}
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

// skip consumes any value. Strings are skipped a word at a time;
// containers by a byte scan that only tracks nesting and strings (Suricata
// nests whole protocol records the decoder does not read, e.g. "tcp" or
// "ja3"), falling back to the full tokenizer to report an error when the
// scan finds something off.
func (s *scanner) skip() error {
	if p := s.pos; p < len(s.data) && s.data[p] == '"' {
		// skipString, one call less.
		i, ok := stringEnd(s.data, p+1)
		if !ok {
			s.pos = len(s.data)
			return s.errorf("unterminated string")
		}
		s.pos = i + 1
		return nil
	}
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{', '[':
		if s.fastSkip() {
			return nil
		}
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err := s.number()
		return err
	case 't', 'f':
		// What skipDepth does for them, without its checks first.
		_, err := s.boolean()
		return err
	}
	return s.skipDepth(0)
}

// skipString skips a string starting at s.pos without unescaping it: an
// escape's backslash takes the byte after it along.
func (s *scanner) skipString() error {
	i, ok := stringEnd(s.data, s.pos+1)
	if !ok {
		s.pos = len(s.data)
		return s.errorf("unterminated string")
	}
	s.pos = i + 1
	return nil
}

// stringEnd returns the index of the quote that ends the string whose
// contents start at i, or false when the data ends first. It reads a word
// at a time, in one loop without calls: EVE's strings are short.
func stringEnd(data []byte, i int) (int, bool) {
	for i+8 <= len(data) {
		m := quoteOrEscapeIn(binary.LittleEndian.Uint64(data[i:]))
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) / 8
		if data[i] == '"' {
			return i, true
		}
		i += 2 // an escape and the byte it escapes
	}
	for i < len(data) {
		switch data[i] {
		case '"':
			return i, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return 0, false
}

// structural marks the bytes fastSkip stops at.
var structural = [256]bool{'{': true, '[': true, '}': true, ']': true, '"': true}

// fastSkip skips a balanced container starting at s.pos. It returns false,
// leaving s.pos unchanged, when the container is unbalanced, truncated or
// too deep; the caller then reports the error with the exact tokenizer.
func (s *scanner) fastSkip() bool {
	depth := 0
	data := s.data
	for i := s.pos; i < len(data); i++ {
		for !structural[data[i]] {
			if i++; i == len(data) {
				return false
			}
		}
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
			// stringEnd's loop, in line: a container holds many
			// short strings.
			for i++; ; {
				if i+8 > len(data) {
					end, ok := stringEnd(data, i)
					if !ok {
						return false
					}
					i = end
					break
				}
				m := quoteOrEscapeIn(binary.LittleEndian.Uint64(data[i:]))
				if m == 0 {
					i += 8
					continue
				}
				i += bits.TrailingZeros64(m) / 8
				if data[i] == '"' {
					break
				}
				i += 2
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
		s.pos++
		for first := true; ; first = false {
			_, more, err := s.member(first)
			if err != nil || !more {
				return err
			}
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		s.pos++
		for first := true; ; first = false {
			more, err := s.element(first)
			if err != nil || !more {
				return err
			}
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
		}
	case '"':
		return s.skipString()
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
