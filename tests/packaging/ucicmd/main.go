// Command ucicmd stands in for OpenWrt's uci command line tool in the
// packaging tests, which run pakon's init and uci-defaults scripts in a
// throw-away root. It is built on pakon's own src/uci package and does what
// those scripts and the test's functions.sh stand-in need: get, show,
// export, set, add_list, delete and commit with the -q, -c, -t, -n, -S and
// -P flags.
//
// Like uci, changes are staged (in -t DIR, default /tmp/.uci) and reach
// /etc/config only with "commit", so a script that forgets to commit leaves
// the file as it was. Entries print as uci prints them: named sections by
// name, anonymous ones as @type[index] (or cfgXXXXXX names with -n in
// export), values single-quoted.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pakon/pakon/src/uci"
)

// errNotFound is uci's "Entry not found".
var errNotFound = errors.New("Entry not found")

// tool holds the flags of one invocation.
type tool struct {
	confDir, saveDir string
	quiet            bool
	nameAnon         bool
	stdout           io.Writer
}

func main() {
	t := &tool{confDir: "/etc/config", saveDir: "/tmp/.uci", stdout: os.Stdout}
	args := os.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-q":
			t.quiet = true
		case "-n":
			t.nameAnon = true
		case "-S", "-X":
		case "-c", "-t", "-P":
			if len(args) < 2 {
				fail(t, fmt.Errorf("option %s needs an argument", args[0]))
			}
			switch args[0] {
			case "-c":
				t.confDir = args[1]
			case "-t":
				t.saveDir = args[1]
			}
			args = args[1:]
		default:
			fail(t, fmt.Errorf("unknown option %s", args[0]))
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fail(t, errors.New("usage: uci [-q] [-c confdir] [-t savedir] command [arguments]"))
	}
	if err := t.run(args[0], args[1:]); err != nil {
		fail(t, err)
	}
}

func fail(t *tool, err error) {
	if !t.quiet {
		fmt.Fprintf(os.Stderr, "uci: %v\n", err)
	}
	os.Exit(1)
}

func (t *tool) run(cmd string, args []string) error {
	if cmd == "commit" {
		return t.commit(args)
	}
	if len(args) != 1 {
		return fmt.Errorf("%s: wrong number of arguments", cmd)
	}
	switch cmd {
	case "get":
		return t.get(args[0])
	case "show":
		return t.show(args[0])
	case "export":
		return t.export(args[0])
	case "set", "add_list":
		return t.set(args[0], cmd == "add_list")
	case "delete":
		return t.delete(args[0])
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// load returns the staged state of package pkg, or its committed file.
func (t *tool) load(pkg string) (*uci.File, error) {
	if !validPackage(pkg) {
		return nil, fmt.Errorf("invalid package name %q", pkg)
	}
	for _, p := range []string{filepath.Join(t.saveDir, pkg), filepath.Join(t.confDir, pkg)} {
		f, err := uci.Load(p)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return nil, errNotFound
}

// stage writes f as the staged state of package pkg.
func (t *tool) stage(pkg string, f *uci.File) error {
	if err := os.MkdirAll(t.saveDir, 0o700); err != nil {
		return fmt.Errorf("stage %s: %w", pkg, err)
	}
	f.Path = filepath.Join(t.saveDir, pkg)
	return f.Save()
}

func (t *tool) commit(args []string) error {
	pkgs := args
	if len(pkgs) == 0 {
		ents, _ := os.ReadDir(t.saveDir)
		for _, e := range ents {
			pkgs = append(pkgs, e.Name())
		}
	}
	for _, pkg := range pkgs {
		staged := filepath.Join(t.saveDir, pkg)
		f, err := uci.Load(staged)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		f.Path = filepath.Join(t.confDir, pkg)
		if err := f.Save(); err != nil {
			return fmt.Errorf("commit %s: %w", pkg, err)
		}
		if err := os.Remove(staged); err != nil {
			return fmt.Errorf("commit %s: %w", pkg, err)
		}
	}
	return nil
}

// ref is a parsed "package.section.option=value" argument.
type ref struct {
	pkg, sec, opt, val string
	hasVal             bool
}

func parseRef(s string) (ref, error) {
	var r ref
	if i := strings.IndexByte(s, '='); i >= 0 {
		s, r.val, r.hasVal = s[:i], s[i+1:], true
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 || parts[0] == "" || (len(parts) > 1 && parts[1] == "") {
		return r, fmt.Errorf("invalid reference %q", s)
	}
	r.pkg = parts[0]
	if len(parts) > 1 {
		r.sec = parts[1]
	}
	if len(parts) > 2 {
		r.opt = parts[2]
	}
	return r, nil
}

func (t *tool) get(arg string) error {
	r, err := parseRef(arg)
	if err != nil || r.sec == "" || r.hasVal {
		return fmt.Errorf("get: invalid reference %q", arg)
	}
	f, err := t.load(r.pkg)
	if err != nil {
		return err
	}
	s := f.Section(r.sec)
	if s == nil {
		return errNotFound
	}
	if r.opt == "" {
		fmt.Fprintln(t.stdout, s.Type)
		return nil
	}
	vals := s.List(r.opt)
	if vals == nil {
		return errNotFound
	}
	fmt.Fprintln(t.stdout, strings.Join(vals, " "))
	return nil
}

// secName is how show prints a section: its name, or @type[index].
func secName(f *uci.File, s *uci.Section) string {
	if s.Name != "" {
		return s.Name
	}
	for i, x := range f.SectionsOfType(s.Type) {
		if x == s {
			return fmt.Sprintf("@%s[%d]", s.Type, i)
		}
	}
	return ""
}

func quote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quote(v)
	}
	return strings.Join(q, " ")
}

func (t *tool) show(arg string) error {
	r, err := parseRef(arg)
	if err != nil || r.hasVal {
		return fmt.Errorf("show: invalid reference %q", arg)
	}
	f, err := t.load(r.pkg)
	if err != nil {
		return err
	}
	found := false
	for _, s := range f.Sections {
		if r.sec != "" && s != f.Section(r.sec) {
			continue
		}
		name := secName(f, s)
		if r.opt == "" {
			fmt.Fprintf(t.stdout, "%s.%s=%s\n", r.pkg, name, s.Type)
			found = true
		}
		for _, o := range s.Options {
			if r.opt != "" && o.Name != r.opt {
				continue
			}
			fmt.Fprintf(t.stdout, "%s.%s.%s=%s\n", r.pkg, name, o.Name, quoteAll(o.Values))
			found = true
		}
	}
	if !found && r.sec != "" {
		return errNotFound
	}
	return nil
}

func (t *tool) export(pkg string) error {
	f, err := t.load(pkg)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.stdout, "package %s\n\n", pkg)
	for i, s := range f.Sections {
		name := s.Name
		if name == "" && t.nameAnon {
			name = fmt.Sprintf("cfg%02x%04x", i+1, (i+1)*0x1f3d&0xffff)
		}
		if name != "" {
			fmt.Fprintf(t.stdout, "config %s %s\n", s.Type, quote(name))
		} else {
			fmt.Fprintf(t.stdout, "config %s\n", s.Type)
		}
		for _, o := range s.Options {
			if o.IsList {
				for _, v := range o.Values {
					fmt.Fprintf(t.stdout, "\tlist %s %s\n", o.Name, quote(v))
				}
				continue
			}
			fmt.Fprintf(t.stdout, "\toption %s %s\n", o.Name, quote(o.Values[len(o.Values)-1]))
		}
		fmt.Fprintln(t.stdout)
	}
	return nil
}

// loadOrNew is load for writes: a package without a file starts empty,
// as uci does when /etc/config/<pkg> exists but is empty.
func (t *tool) loadOrNew(pkg string) (*uci.File, error) {
	f, err := t.load(pkg)
	if errors.Is(err, errNotFound) {
		if _, statErr := os.Stat(filepath.Join(t.confDir, pkg)); statErr == nil {
			return &uci.File{}, nil
		}
	}
	return f, err
}

func (t *tool) set(arg string, addList bool) error {
	r, err := parseRef(arg)
	if err != nil || r.sec == "" || !r.hasVal || (addList && r.opt == "") {
		return fmt.Errorf("set: invalid reference %q", arg)
	}
	f, err := t.loadOrNew(r.pkg)
	if err != nil {
		return err
	}
	if r.opt == "" {
		if strings.HasPrefix(r.sec, "@") {
			s := f.Section(r.sec)
			if s == nil {
				return errNotFound
			}
			s.Type = r.val
		} else {
			f.Add(r.val, r.sec)
		}
		return t.stage(r.pkg, f)
	}
	s := f.Section(r.sec)
	if s == nil {
		return errNotFound
	}
	if addList {
		s.SetList(r.opt, append(s.List(r.opt), r.val)...)
	} else {
		s.Set(r.opt, r.val)
	}
	return t.stage(r.pkg, f)
}

func (t *tool) delete(arg string) error {
	r, err := parseRef(arg)
	if err != nil || r.sec == "" || r.hasVal {
		return fmt.Errorf("delete: invalid reference %q", arg)
	}
	f, err := t.load(r.pkg)
	if err != nil {
		return err
	}
	s := f.Section(r.sec)
	if s == nil {
		return errNotFound
	}
	if r.opt == "" {
		f.Remove(s)
	} else {
		s.Del(r.opt)
	}
	return t.stage(r.pkg, f)
}

func validPackage(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
