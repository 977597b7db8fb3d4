package uci

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteTo writes f as canonical UCI text: sections separated by a blank
// line, "config type 'name'", tab-indented options with values in single
// quotes (a quote inside is written as quote, backslash, quote, quote,
// quote, as uci export does), lists as one "list" line per value, and the
// kept comments above what they belong to. It refuses to write what could
// not be read back: invalid names or types, NUL bytes, options without
// values.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	if err := f.encode(&b); err != nil {
		return 0, err
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// Bytes returns the canonical UCI text of f, as WriteTo writes it.
func (f *File) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := f.encode(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (f *File) encode(b *bytes.Buffer) error {
	for i, s := range f.Sections {
		if !validType(s.Type) {
			return fmt.Errorf("write %s: invalid section type %q", f.Path, s.Type)
		}
		if s.Name != "" && !validName(s.Name) {
			return fmt.Errorf("write %s: invalid section name %q", f.Path, s.Name)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		if err := writeComments(b, "", s.Comments, true); err != nil {
			return fmt.Errorf("write %s: section %s: %w", f.Path, s.Type, err)
		}
		b.WriteString("config ")
		if strings.ContainsAny(s.Type, `'"\#;`) {
			b.WriteString(quote(s.Type))
		} else {
			b.WriteString(s.Type)
		}
		if s.Name != "" {
			b.WriteString(" '")
			b.WriteString(s.Name)
			b.WriteByte('\'')
		}
		b.WriteByte('\n')
		for _, o := range s.Options {
			if err := writeOption(b, o); err != nil {
				return fmt.Errorf("write %s: section %s: %w", f.Path, s.Type, err)
			}
		}
	}
	if len(f.Trailer) > 0 {
		if len(f.Sections) > 0 {
			b.WriteByte('\n')
		}
		if err := writeComments(b, "", f.Trailer, true); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

func writeOption(b *bytes.Buffer, o *Option) error {
	if !validName(o.Name) {
		return fmt.Errorf("invalid option name %q", o.Name)
	}
	if len(o.Values) == 0 {
		return fmt.Errorf("option %s has no value", o.Name)
	}
	if err := writeComments(b, "\t", o.Comments, false); err != nil {
		return fmt.Errorf("option %s: %w", o.Name, err)
	}
	kw := "\toption "
	values := o.Values
	if o.IsList {
		kw = "\tlist "
	} else {
		values = values[len(values)-1:]
	}
	for _, v := range values {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("option %s: NUL byte in value", o.Name)
		}
		b.WriteString(kw)
		b.WriteString(o.Name)
		b.WriteByte(' ')
		b.WriteString(quote(v))
		b.WriteByte('\n')
	}
	return nil
}

// writeComments writes comment lines, "" as a blank line, but never two
// blank lines in a row (after blank, the line before was one).
func writeComments(b *bytes.Buffer, indent string, lines []string, blank bool) error {
	for _, c := range lines {
		if strings.ContainsAny(c, "\n\x00") {
			return fmt.Errorf("comment %q spans lines", c)
		}
		c = strings.TrimSpace(c)
		if c == "" {
			if !blank {
				b.WriteByte('\n')
			}
			blank = true
			continue
		}
		blank = false
		b.WriteString(indent)
		if c[0] != '#' {
			b.WriteString("# ")
		}
		b.WriteString(c)
		b.WriteByte('\n')
	}
	return nil
}

// quote single-quotes v the way uci export does.
func quote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// Save writes f to f.Path atomically: it writes a temporary file in the
// same directory, syncs it, and renames it over the old file, so a power
// cut leaves either the old or the new file. The old file's mode (and,
// when permitted, owner) is kept; a new file gets mode 0644. If f.Path is
// a symbolic link, its target is replaced.
func (f *File) Save() error {
	data, err := f.Bytes()
	if err != nil {
		return err
	}
	path := f.Path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := fs.FileMode(0o644)
	old, statErr := os.Stat(path)
	if statErr == nil {
		mode = old.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".uci-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	if statErr == nil {
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			// Best effort: an unprivileged writer of a group-writable
			// file cannot give the copy the old owner, and the edit
			// is still worth keeping.
			_ = tmp.Chown(int(st.Uid), int(st.Gid))
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	done = true
	// Sync the directory so the rename itself survives a power cut.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("save %s: sync directory: %w", f.Path, err)
		}
	}
	return nil
}
