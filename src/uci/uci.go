// Package uci reads and writes OpenWrt UCI configuration files
// (/etc/config/<name>) with line numbers for errors.
//
// The syntax follows libuci: the keywords package, config, option and list
// (or their one-letter abbreviations p, c, o and l); values that are bare
// words, single quoted (no escapes), double quoted (a backslash keeps the
// next character literally), or concatenations of those, such as this value
// with a single quote inside:
//
//	option note 'it'\''s'
//
// A backslash at the end of a line joins the next line; ';' ends a
// statement; '#' outside quotes starts a comment that runs to the end of the
// line. Like libuci, an option set to the empty string is deleted, a list
// line after an option of the same name turns the option into a list, and a
// second config line with the name of an existing section reopens that
// section.
//
// Unlike "uci commit", which drops all comments, this package keeps
// whole-line comments: a block of comment lines is attached to the section
// or option that follows it (Section.Comments, Option.Comments) and written
// back above it; comments after the last statement are kept in
// File.Trailer. Blank lines are kept the same way (as "" lines; a run of
// them becomes one). Comments that follow a statement on the same line are
// dropped.
package uci

import (
	"fmt"
	"strconv"
	"strings"
)

// File is one parsed UCI configuration file.
type File struct {
	// Path is where the file was read from and where Save writes it.
	Path string
	// Sections are in file order.
	Sections []*Section
	// Trailer holds the comment lines after the last statement.
	Trailer []string
}

// Section is one "config <type> ['<name>']" block.
type Section struct {
	Type string
	// Name is "" for an anonymous section.
	Name string
	// Line is where the section starts; 0 for sections added in code.
	Line    int
	Options []*Option
	// Comments are the comment lines ("# …", or "" for a blank line)
	// written directly above the config line.
	Comments []string
}

// Option is one "option" or the merged "list" lines of one name.
type Option struct {
	Name   string
	Values []string
	// IsList is true for options given as "list" lines; it decides how
	// WriteTo writes them even when there is a single value.
	IsList bool
	// Line is where the option (its first value) was defined; 0 if set in
	// code.
	Line int
	// Lines holds the line of each value, parallel to Values (0 for
	// values set in code). Readers use it to point errors at one list item.
	Lines []int
	// Comments are the comment lines written directly above the option.
	Comments []string
}

// ParseError is a syntax error at one line of a UCI file.
type ParseError struct {
	Path string
	Line int
	Msg  string
}

// Error returns "path:line: msg".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Section returns the section called name, or nil. Like uci, name may
// also address a section by type and position: "@type[0]" is the first
// section of that type, "@type[-1]" the last.
func (f *File) Section(name string) *Section {
	if typ, idx, ok := parseRef(name); ok {
		secs := f.SectionsOfType(typ)
		if idx < 0 {
			idx += len(secs)
		}
		if idx < 0 || idx >= len(secs) {
			return nil
		}
		return secs[idx]
	}
	if name == "" {
		return nil
	}
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// parseRef splits "@type[idx]".
func parseRef(ref string) (typ string, idx int, ok bool) {
	if !strings.HasPrefix(ref, "@") || !strings.HasSuffix(ref, "]") {
		return "", 0, false
	}
	open := strings.IndexByte(ref, '[')
	if open < 2 {
		return "", 0, false
	}
	n, err := strconv.Atoi(ref[open+1 : len(ref)-1])
	if err != nil {
		return "", 0, false
	}
	return ref[1:open], n, true
}

// SectionsOfType returns the sections of type typ in file order.
func (f *File) SectionsOfType(typ string) []*Section {
	var out []*Section
	for _, s := range f.Sections {
		if s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// Add appends a new section and returns it. An empty name adds an
// anonymous section. If a section called name exists already, Add
// changes its type to typ and returns it, as "uci set" does. Names and
// types are checked when the file is written.
func (f *File) Add(typ, name string) *Section {
	if name != "" {
		if s := f.Section(name); s != nil && !strings.HasPrefix(name, "@") {
			s.Type = typ
			return s
		}
	}
	s := &Section{Type: typ, Name: name}
	f.Sections = append(f.Sections, s)
	return s
}

// Remove deletes section s (and its comments) from the file.
func (f *File) Remove(s *Section) {
	for i, x := range f.Sections {
		if x == s {
			f.Sections = append(f.Sections[:i], f.Sections[i+1:]...)
			return
		}
	}
}

// Option returns the option called name, or nil.
func (s *Section) Option(name string) *Option {
	for _, o := range s.Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Get returns the last value of option name, and whether it is set.
func (s *Section) Get(name string) (string, bool) {
	o := s.Option(name)
	if o == nil || len(o.Values) == 0 {
		return "", false
	}
	return o.Values[len(o.Values)-1], true
}

// List returns all values of option name (one for a plain option), or nil.
func (s *Section) List(name string) []string {
	o := s.Option(name)
	if o == nil {
		return nil
	}
	return append([]string(nil), o.Values...)
}

// Set sets option name to values: one value makes a plain option, more
// make a list. No values, or a single empty value, deletes the option,
// as "uci set" does. An existing option keeps its place and comments.
func (s *Section) Set(name string, values ...string) {
	if len(values) == 0 || (len(values) == 1 && values[0] == "") {
		s.Del(name)
		return
	}
	s.set(name, len(values) > 1, values)
}

// SetList sets option name to a list of values, written as "list" lines
// even when there is only one. No values deletes the option.
func (s *Section) SetList(name string, values ...string) {
	if len(values) == 0 {
		s.Del(name)
		return
	}
	s.set(name, true, values)
}

func (s *Section) set(name string, list bool, values []string) {
	o := s.Option(name)
	if o == nil {
		o = &Option{Name: name}
		s.Options = append(s.Options, o)
	}
	o.IsList = list
	o.Values = append([]string(nil), values...)
	o.Lines = make([]int, len(values))
	o.Line = 0
}

// Del deletes option name if it exists.
func (s *Section) Del(name string) {
	for i, o := range s.Options {
		if o.Name == name {
			s.Options = append(s.Options[:i], s.Options[i+1:]...)
			return
		}
	}
}
