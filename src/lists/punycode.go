package lists

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Bootstring parameters for Punycode, RFC 3492 section 5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
	// pcMaxInt bounds every intermediate value; RFC 3492 needs at least
	// 26 bits, and a fixed 31-bit limit keeps results the same on every
	// platform.
	pcMaxInt = 1<<31 - 1
)

// acePrefix marks a label that holds Punycode (RFC 5890 "A-label").
const acePrefix = "xn--"

var errPunycode = errors.New("invalid punycode")

// Unicode returns name with every well-formed "xn--" label decoded to
// Unicode, for display. Labels that are not valid Punycode, that decode to
// nothing but ASCII, or that would decode to control characters, dots or
// white space are left in their ASCII form, so the result never hides or
// fakes a label boundary. Matching always uses the ASCII form; Unicode is
// only for showing a name to a person.
func Unicode(name string) string {
	if !strings.Contains(name, "--") {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	rest := name
	for {
		label, tail, more := strings.Cut(rest, ".")
		b.WriteString(unicodeLabel(label))
		if !more {
			break
		}
		b.WriteByte('.')
		rest = tail
	}
	return b.String()
}

// unicodeLabel decodes one A-label, or returns label unchanged.
func unicodeLabel(label string) string {
	if len(label) <= len(acePrefix) || len(label) > maxLabelLen ||
		!strings.EqualFold(label[:len(acePrefix)], acePrefix) {
		return label
	}
	runes, err := punyDecode(lowerASCII(label[len(acePrefix):]))
	if err != nil {
		return label
	}
	ascii := true
	for _, r := range runes {
		if r >= utf8.RuneSelf {
			ascii = false
		}
		if !displayable(r) {
			return label
		}
	}
	if ascii {
		return label
	}
	return string(runes)
}

// displayable reports whether r may appear in a decoded label shown to a
// person: no controls, no white space, no dot look-alikes that would fake a
// label boundary.
func displayable(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return false
	case r == '.', r == 0x3002, r == 0xff0e, r == 0xff61, r == 0x2024, r == 0xfe52:
		return false
	case r == ' ', r == 0x85, r == 0xa0, r == 0x1680, r >= 0x2000 && r <= 0x200f,
		r >= 0x2028 && r <= 0x202f, r == 0x205f, r >= 0x2060 && r <= 0x206f,
		r == 0x3000, r == 0xfeff:
		return false
	}
	return true
}

// punyDecode decodes the Punycode string in (without the "xn--" prefix) to
// code points, following RFC 3492 section 6.2. It fails on overflow, on
// non-basic input, and on results that are not valid Unicode scalar
// values.
func punyDecode(in string) ([]rune, error) {
	n, i, bias := pcInitialN, 0, pcInitialBias
	var out []rune
	pos := 0
	if b := strings.LastIndexByte(in, '-'); b > 0 {
		out = make([]rune, 0, len(in))
		for j := range b {
			c := in[j]
			if c >= utf8.RuneSelf {
				return nil, errPunycode
			}
			out = append(out, rune(c))
		}
		pos = b + 1
	}
	for pos < len(in) {
		oldi, w := i, 1
		for k := pcBase; ; k += pcBase {
			if pos >= len(in) {
				return nil, errPunycode
			}
			digit, ok := punyDigitValue(in[pos])
			pos++
			if !ok || digit > (pcMaxInt-i)/w {
				return nil, errPunycode
			}
			i += digit * w
			t := punyThreshold(k, bias)
			if digit < t {
				break
			}
			if w > pcMaxInt/(pcBase-t) {
				return nil, errPunycode
			}
			w *= pcBase - t
		}
		size := len(out) + 1
		bias = punyAdapt(i-oldi, size, oldi == 0)
		if i/size > pcMaxInt-n {
			return nil, errPunycode
		}
		n += i / size
		i %= size
		if n < pcInitialN || n > utf8.MaxRune || (n >= 0xd800 && n <= 0xdfff) {
			return nil, errPunycode
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
	}
	return out, nil
}

// punyEncode encodes code points to Punycode (without the "xn--" prefix),
// following RFC 3492 section 6.3.
func punyEncode(in []rune) (string, error) {
	n, delta, bias := pcInitialN, 0, pcInitialBias
	var out strings.Builder
	basic := 0
	for _, r := range in {
		if r < utf8.RuneSelf {
			out.WriteByte(byte(r))
			basic++
		} else if r > utf8.MaxRune || (r >= 0xd800 && r <= 0xdfff) {
			return "", errPunycode
		}
	}
	if basic > 0 {
		out.WriteByte('-')
	}
	for h := basic; h < len(in); {
		m := pcMaxInt
		for _, r := range in {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		if m-n > (pcMaxInt-delta)/(h+1) {
			return "", errPunycode
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range in {
			if int(r) < n {
				delta++
				if delta > pcMaxInt {
					return "", errPunycode
				}
			}
			if int(r) != n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := punyThreshold(k, bias)
				if q < t {
					break
				}
				out.WriteByte(punyDigit(t + (q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			out.WriteByte(punyDigit(q))
			bias = punyAdapt(delta, h+1, h == basic)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return out.String(), nil
}

// punyThreshold is t(k) of RFC 3492 section 6.1, clamped to [tmin, tmax].
func punyThreshold(k, bias int) int {
	switch {
	case k <= bias:
		return pcTMin
	case k >= bias+pcTMax:
		return pcTMax
	}
	return k - bias
}

// punyAdapt is the bias adaptation function of RFC 3492 section 6.1.
func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// punyDigitValue maps a basic code point to its digit value: a–z (either
// case) are 0–25 and 0–9 are 26–35.
func punyDigitValue(c byte) (int, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	case c >= 'A' && c <= 'Z':
		return int(c - 'A'), true
	case c >= '0' && c <= '9':
		return int(c-'0') + 26, true
	}
	return 0, false
}

// punyDigit maps a digit value 0–35 to its lower-case basic code point.
func punyDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}
