package uci

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Load reads and parses the UCI file at path. Syntax errors are
// *ParseError values ("path:line: msg"); I/O errors are returned as the
// os package reports them, so errors.Is(err, fs.ErrNotExist) works.
func Load(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, src)
}

// Read parses UCI text from r; path is used in errors and by Save.
func Read(r io.Reader, path string) (*File, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parse(path, src)
}

// parser holds the state of one parse run.
type parser struct {
	path string
	src  []byte
	pos  int
	line int

	f   *File
	cur *Section
	// pending is the comment block waiting for the next statement; blank
	// records a blank line after the last comment or statement.
	pending []string
	blank   bool
}

// parse turns UCI text into a File.
func parse(path string, src []byte) (*File, error) {
	p := &parser{path: path, src: src, line: 1, f: &File{Path: path}}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		// libuci stops at a NUL byte; refuse rather than guess.
		return nil, p.errorf(1+bytes.Count(src[:i], []byte{'\n'}), "NUL byte in file")
	}
	for p.pos < len(p.src) {
		p.skipSpace()
		if p.pos >= len(p.src) {
			break
		}
		switch p.src[p.pos] {
		case '\n':
			p.pos++
			p.line++
			p.blank = true
		case '#':
			start := p.pos
			p.skipComment()
			if p.blank {
				p.pending = append(p.pending, "")
				p.blank = false
			}
			p.pending = append(p.pending, strings.TrimSpace(string(p.src[start:p.pos])))
			if p.pos < len(p.src) {
				// The newline ending the comment is not a blank line.
				p.pos++
				p.line++
			}
		default:
			if err := p.statements(); err != nil {
				return nil, err
			}
		}
	}
	p.f.Trailer = trimBlank(p.pending)
	return p.f, nil
}

func (p *parser) errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// isSpace reports the whitespace that separates words; '\n' ends a line
// and is handled separately.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// skipComment moves to the '\n' that ends the comment (not past it).
func (p *parser) skipComment() {
	if i := bytes.IndexByte(p.src[p.pos:], '\n'); i >= 0 {
		p.pos += i
	} else {
		p.pos = len(p.src)
	}
}

// continuation reports the length of a backslash-newline at p.pos+off
// ("\\\n" or "\\\r\n"), or 0.
func (p *parser) continuation(off int) int {
	rest := p.src[p.pos+off:]
	if len(rest) >= 2 && rest[0] == '\\' && rest[1] == '\n' {
		return 2
	}
	if len(rest) >= 3 && rest[0] == '\\' && rest[1] == '\r' && rest[2] == '\n' {
		return 3
	}
	return 0
}

// statements parses the ';'-separated statements of one logical line.
func (p *parser) statements() error {
	for {
		words, line, more, err := p.words()
		if err != nil {
			return err
		}
		if len(words) > 0 {
			if err := p.statement(words, line); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// words reads the words of one statement. more is true when the
// statement ended with ';' and another may follow on the same line.
func (p *parser) words() (words []string, line int, more bool, err error) {
	line = p.line
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return words, line, false, nil
		}
		switch c := p.src[p.pos]; {
		case c == '\n':
			p.pos++
			p.line++
			return words, line, false, nil
		case c == ';':
			p.pos++
			return words, line, true, nil
		case c == '#':
			p.skipComment()
		case c == '\\' && p.continuation(0) > 0:
			p.pos += p.continuation(0)
			p.line++
		case c == '\\' && p.pos+1 == len(p.src):
			p.pos++
		default:
			if len(words) == 0 {
				line = p.line
			}
			w, err := p.word()
			if err != nil {
				return nil, 0, false, err
			}
			words = append(words, w)
		}
	}
}

// word reads one word: bare characters, quoted parts and escapes up to
// unquoted whitespace, ';', '#' or the end of the line.
func (p *parser) word() (string, error) {
	var b []byte
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case isSpace(c) || c == '\n' || c == ';' || c == '#':
			return string(b), nil
		case c == '\'':
			open := p.line
			end := bytes.IndexByte(p.src[p.pos+1:], '\'')
			if end < 0 {
				return "", p.errorf(open, "unterminated ' quote")
			}
			part := p.src[p.pos+1 : p.pos+1+end]
			p.line += bytes.Count(part, []byte{'\n'})
			b = append(b, part...)
			p.pos += end + 2
		case c == '"':
			var err error
			if b, err = p.doubleQuoted(b); err != nil {
				return "", err
			}
		case c == '\\':
			if n := p.continuation(0); n > 0 {
				p.pos += n
				p.line++
				continue
			}
			if p.pos+1 == len(p.src) {
				p.pos++
				continue
			}
			// The backslash keeps the next character literally.
			b = append(b, p.src[p.pos+1])
			p.pos += 2
		default:
			b = append(b, c)
			p.pos++
		}
	}
	return string(b), nil
}

// doubleQuoted appends the contents of the "…" part at p.pos to b.
func (p *parser) doubleQuoted(b []byte) ([]byte, error) {
	open := p.line
	p.pos++
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '"':
			p.pos++
			return b, nil
		case '\\':
			if n := p.continuation(0); n > 0 {
				p.pos += n
				p.line++
				continue
			}
			if p.pos+1 == len(p.src) {
				p.pos++
				continue
			}
			c = p.src[p.pos+1]
			if c == '\n' {
				p.line++
			}
			b = append(b, c)
			p.pos += 2
		default:
			if c == '\n' {
				p.line++
			}
			b = append(b, c)
			p.pos++
		}
	}
	return nil, p.errorf(open, `unterminated " quote`)
}

// statement applies one parsed statement to the file.
func (p *parser) statement(words []string, line int) error {
	kw, args := words[0], words[1:]
	switch kw {
	case "package", "p":
		// The package name comes from the file name; the line is ignored.
		if len(args) != 1 {
			return p.errorf(line, "package wants one name, got %d words", len(args))
		}
		return nil
	case "config", "c":
		return p.config(args, line)
	case "option", "o":
		return p.option(args, line, false)
	case "list", "l":
		return p.option(args, line, true)
	}
	return p.errorf(line, "unknown keyword %q (want config, option, list or package)", kw)
}

// takeComments hands the pending comment block to a statement.
func (p *parser) takeComments() []string {
	c := p.pending
	if p.blank {
		c = append(c, "")
	}
	p.pending, p.blank = nil, false
	return c
}

func (p *parser) config(args []string, line int) error {
	if len(args) == 0 {
		return p.errorf(line, "config without a type")
	}
	if len(args) > 2 {
		return p.errorf(line, "too many words after config (want type and optional name)")
	}
	typ := args[0]
	if !validType(typ) {
		return p.errorf(line, "invalid section type %q", typ)
	}
	name := ""
	if len(args) == 2 {
		name = args[1]
	}
	if name != "" && !validName(name) {
		return p.errorf(line, "invalid section name %q (want letters, digits and _)", name)
	}
	// The blank line above a section is the separator WriteTo writes.
	comments := trimBlank(p.takeComments())
	if name != "" {
		if s := p.f.Section(name); s != nil {
			s.Type = typ
			s.Comments = joinComments(s.Comments, comments)
			p.cur = s
			return nil
		}
	}
	p.cur = &Section{Type: typ, Name: name, Line: line, Comments: comments}
	p.f.Sections = append(p.f.Sections, p.cur)
	return nil
}

func (p *parser) option(args []string, line int, list bool) error {
	kw := "option"
	if list {
		kw = "list"
	}
	if p.cur == nil {
		return p.errorf(line, "%s outside a section", kw)
	}
	if len(args) == 0 {
		return p.errorf(line, "%s without a name", kw)
	}
	if len(args) > 2 {
		return p.errorf(line, "too many words after %s (want name and value; quote values with spaces)", kw)
	}
	name := args[0]
	if !validName(name) {
		return p.errorf(line, "invalid %s name %q (want letters, digits and _)", kw, name)
	}
	value := ""
	if len(args) == 2 {
		value = args[1]
	}
	comments := p.takeComments()
	o := p.cur.Option(name)
	switch {
	case !list && value == "":
		// uci set with an empty value deletes the option.
		p.cur.Del(name)
	case o == nil:
		p.cur.Options = append(p.cur.Options, &Option{
			Name: name, Values: []string{value}, IsList: list,
			Line: line, Lines: []int{line}, Comments: comments,
		})
	case list:
		// A list line after an option turns it into a list.
		o.IsList = true
		o.Values = append(o.Values, value)
		o.Lines = append(o.Lines, line)
		o.Comments = joinComments(o.Comments, comments)
	default:
		o.IsList = false
		o.Values = []string{value}
		o.Line, o.Lines = line, []int{line}
		o.Comments = joinComments(o.Comments, comments)
	}
	return nil
}

// validName reports whether s is a valid section or option name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validType reports whether s is a valid section type: printable ASCII
// without spaces, as libuci accepts.
func validType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// trimBlank drops the blank-line markers at the start of a comment block.
func trimBlank(c []string) []string {
	for len(c) > 0 && c[0] == "" {
		c = c[1:]
	}
	if len(c) == 0 {
		return nil
	}
	return c
}

// joinComments appends block b to a without doubling a blank line.
func joinComments(a, b []string) []string {
	if len(a) == 0 || a[len(a)-1] == "" {
		b = trimBlank(b)
	}
	if len(a) == 0 {
		return b
	}
	return append(a, b...)
}
