package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/pakon/pakon/src/uci"
)

// Load reads the UCI file at path. A missing file is not an error: pakon
// must run on hosts without /etc/config/pakon, so Load returns Default()
// and a warning. Syntax errors are *uci.ParseError; invalid values are
// *Error, several of them joined with errors.Join.
func Load(path string) (*Config, []Warning, error) {
	f, err := uci.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		c := Default()
		c.Path = path
		return c, []Warning{{Path: path, Msg: "file not found; using defaults"}}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return FromUCI(f)
}

// loader collects the configuration, errors and warnings of one file.
type loader struct {
	c     *Config
	path  string
	errs  []error
	warns []Warning
	// seen tracks list options already replaced, so that a second
	// section of the same type adds to instead of replacing them again.
	seen map[string]bool
}

// FromUCI builds a Config from a parsed UCI file. Unknown sections and
// options are warnings; invalid values are errors naming file and line.
func FromUCI(f *uci.File) (*Config, []Warning, error) {
	l := &loader{c: Default(), path: f.Path, seen: map[string]bool{}}
	l.c.Path = f.Path
	var rules []*uci.Section
	count := map[string]int{}
	for _, s := range f.Sections {
		count[s.Type]++
		if count[s.Type] == 2 && singleton[s.Type] {
			l.warnf(s.Line, "second %s section; its options override the first's", s.Type)
		}
		switch s.Type {
		case "monitor":
			l.section(s, monitorOptions)
		case "common":
			l.section(s, commonOptions)
		case "archive":
			l.section(s, archiveOptions)
		case "ubus":
			l.section(s, ubusOptions)
		case "lists":
			l.section(s, listsOptions)
		case "alerts":
			l.section(s, alertsOptions)
		case "rules":
			l.section(s, rulesOptions)
		case "archive_rule":
			rules = append(rules, s)
		case "device":
			l.device(s)
		default:
			l.warnf(s.Line, "unknown section type %q", s.Type)
		}
	}
	if len(rules) > 0 {
		l.c.ArchiveRules = l.archiveRules(rules)
	}
	l.checkKeep(f)
	if (l.seen["rules.source"] || l.seen["rules.local"]) && !l.seen["rules.url"] {
		// The default source is for a config that names none.
		l.c.Rules.URLs = nil
	}
	if len(l.errs) > 0 {
		return nil, l.warns, errors.Join(l.errs...)
	}
	return l.c, l.warns, nil
}

var singleton = map[string]bool{"monitor": true, "common": true, "archive": true, "ubus": true, "lists": true,
	"alerts": true, "rules": true}

func (l *loader) errorf(line int, format string, args ...any) {
	l.errs = append(l.errs, &Error{Path: l.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(line int, format string, args ...any) {
	l.warns = append(l.warns, Warning{Path: l.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// optionFunc applies one option; a returned error is reported at the
// option's line as "option NAME: err".
type optionFunc func(l *loader, o *uci.Option) error

func (l *loader) section(s *uci.Section, table map[string]optionFunc) {
	for _, o := range s.Options {
		fn, ok := table[o.Name]
		if !ok {
			l.warnf(o.Line, "unknown option '%s' in section %s", o.Name, s.Type)
			continue
		}
		if err := fn(l, o); err != nil {
			l.errorf(o.Line, "option %s: %v", o.Name, err)
		}
	}
}

// last is the value of a plain option (the last one of a list).
func last(o *uci.Option) string { return o.Values[len(o.Values)-1] }

// items returns the values of a list option with their lines. A plain
// option holds a space-separated list, as UCI's network options do.
func items(o *uci.Option) (vals []string, lines []int) {
	for i, v := range o.Values {
		line := o.Line
		if i < len(o.Lines) && o.Lines[i] != 0 {
			line = o.Lines[i]
		}
		if !o.IsList {
			for _, w := range strings.Fields(v) {
				vals, lines = append(vals, w), append(lines, line)
			}
			continue
		}
		vals, lines = append(vals, v), append(lines, line)
	}
	return vals, lines
}

// list applies check to every item of a list option and reports each bad
// item at its own line. The first occurrence of key replaces the default.
func (l *loader) list(o *uci.Option, key string, dst *[]string, check func(string) (string, error)) error {
	if !l.seen[key] {
		*dst = nil
		l.seen[key] = true
	}
	vals, lines := items(o)
	if len(vals) == 0 {
		return errors.New("empty list")
	}
	for i, v := range vals {
		v, err := check(v)
		if err != nil {
			l.errorf(lines[i], "option %s: %v", o.Name, err)
			continue
		}
		*dst = append(*dst, v)
	}
	return nil
}

func boolOption(dst func(*Config) *bool) optionFunc {
	return func(l *loader, o *uci.Option) error {
		b, err := parseBool(last(o))
		if err == nil {
			*dst(l.c) = b
		}
		return err
	}
}

func pathOption(dst func(*Config) *string) optionFunc {
	return func(l *loader, o *uci.Option) error {
		p, err := checkAbsPath(last(o))
		if err == nil {
			*dst(l.c) = p
		}
		return err
	}
}

func countOption(dst func(*Config) *int, lo, hi int64) optionFunc {
	return func(l *loader, o *uci.Option) error {
		n, err := parseCount(last(o), lo, hi)
		if err == nil {
			*dst(l.c) = int(n)
		}
		return err
	}
}

func notifyOption(l *loader, o *uci.Option) error {
	return boolOption(func(c *Config) *bool { return &c.NotifyNewDevices })(l, o)
}

var monitorOptions = map[string]optionFunc{
	"interface": func(l *loader, o *uci.Option) error {
		return l.list(o, "interface", &l.c.Interfaces, func(s string) (string, error) { return s, checkIfname(s) })
	},
	"mode": func(l *loader, o *uci.Option) error {
		l.c.Mode = last(o)
		if l.c.Mode == ModeFilter {
			l.warnf(o.Line, "mode '%s' (PaKon's conntrack flow source) is not supported; pakon reads Suricata's EVE output", ModeFilter)
		} else {
			l.warnf(o.Line, "unknown mode '%s' ignored; pakon reads Suricata's EVE output", l.c.Mode)
		}
		return nil
	},
	"notify_new_devices": notifyOption,
	"database_limit":     countOption(func(c *Config) *int { return &c.LiveDBLimit }, 1, math.MaxInt32),
	"eve_socket":         pathOption(func(c *Config) *string { return &c.EVESocket }),
	"eve_file":           pathOption(func(c *Config) *string { return &c.EVEFile }),
	"live_db":            pathOption(func(c *Config) *string { return &c.LiveDB }),
	"state_dir":          pathOption(func(c *Config) *string { return &c.StateDir }),
	"local_network": func(l *loader, o *uci.Option) error {
		if !l.seen["local_network"] {
			l.c.LocalNetworks = nil
			l.seen["local_network"] = true
		}
		vals, lines := items(o)
		if len(vals) == 0 {
			return errors.New("empty list")
		}
		for i, v := range vals {
			p, warn, err := parsePrefix(v)
			if err != nil {
				l.errorf(lines[i], "option %s: %v", o.Name, err)
				continue
			}
			if warn != "" {
				l.warnf(lines[i], "option %s: %s", o.Name, warn)
			}
			l.c.LocalNetworks = append(l.c.LocalNetworks, p)
		}
		return nil
	},
	"skip_dns":            boolOption(func(c *Config) *bool { return &c.SkipDNS }),
	"skip_unidirectional": boolOption(func(c *Config) *bool { return &c.SkipUnidirectional }),
	"queue_size":          countOption(func(c *Config) *int { return &c.QueueSize }, 1, 1<<20),
	"memory_limit": func(l *loader, o *uci.Option) error {
		n, err := ParseSize(last(o))
		if err == nil {
			l.c.MemoryLimit = n
		}
		return err
	},
	"commit_interval": func(l *loader, o *uci.Option) error {
		d, err := ParseDuration(last(o))
		if err != nil {
			return err
		}
		if d < time.Second {
			return fmt.Errorf("%q is shorter than 1s", last(o))
		}
		l.c.CommitInterval = d
		return nil
	},
}

var commonOptions = map[string]optionFunc{
	"notify_new_devices": notifyOption,
}

var archiveOptions = map[string]optionFunc{
	"path": pathOption(func(c *Config) *string { return &c.ArchivePath }),
	"keep": func(l *loader, o *uci.Option) error {
		d, err := ParseDuration(last(o))
		if err == nil {
			l.c.ArchiveKeep = d
		}
		return err
	},
	"database_limit": countOption(func(c *Config) *int { return &c.ArchiveDBLimit }, 1, math.MaxInt32),
}

var ubusOptions = map[string]optionFunc{
	"socket": pathOption(func(c *Config) *string { return &c.UbusSocket }),
	"write_group": func(l *loader, o *uci.Option) error {
		g := last(o)
		if strings.ContainsAny(g, " \t:/") {
			return fmt.Errorf("invalid group name %q", g)
		}
		l.c.UbusWriteGroup = g
		return nil
	},
}

var listsOptions = map[string]optionFunc{
	"replace": func(l *loader, o *uci.Option) error {
		return l.list(o, "replace", &l.c.ReplaceLists, checkAbsPath)
	},
	"ignore": func(l *loader, o *uci.Option) error {
		return l.list(o, "ignore", &l.c.IgnoreLists, checkAbsPath)
	},
}

// parsePrefix accepts a CIDR prefix or a single address. Host bits are
// cleared with a warning.
func parsePrefix(s string) (p netip.Prefix, warn string, err error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, "", fmt.Errorf("invalid network %q (want a prefix such as 192.168.1.0/24)", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), "", nil
	}
	p, err = netip.ParsePrefix(s)
	if err != nil {
		return p, "", fmt.Errorf("invalid network %q (want a prefix such as 192.168.1.0/24)", s)
	}
	if m := p.Masked(); m != p {
		return m, fmt.Sprintf("%s has host bits set; using %s", s, m), nil
	}
	return p, "", nil
}

func (l *loader) archiveRules(secs []*uci.Section) []ArchiveRule {
	var rules []ArchiveRule
	for _, s := range secs {
		var r ArchiveRule
		ok := true
		var have [2]bool
		for _, o := range s.Options {
			switch o.Name {
			case "up_to", "window":
				d, err := ParseDuration(last(o))
				if err != nil {
					l.errorf(o.Line, "option %s: %v", o.Name, err)
					ok = false
					continue
				}
				if o.Name == "up_to" {
					r.UpTo, have[0] = d, true
				} else {
					r.Window, have[1] = d, true
				}
			case "size_threshold":
				n, err := parseCount(last(o), 0, math.MaxInt64)
				if err != nil {
					l.errorf(o.Line, "option %s: %v", o.Name, err)
					ok = false
					continue
				}
				r.SizeThreshold = n
			default:
				l.warnf(o.Line, "unknown option '%s' in section archive_rule", o.Name)
			}
		}
		switch {
		case !have[0] && ok:
			l.errorf(s.Line, "archive_rule without option up_to")
			ok = false
		case !have[1] && ok:
			l.errorf(s.Line, "archive_rule without option window")
			ok = false
		case have[0] && r.UpTo == 0:
			l.errorf(s.Line, "archive_rule: up_to must be more than 0")
			ok = false
		}
		if !ok {
			continue
		}
		if n := len(rules); n > 0 && r.UpTo <= rules[n-1].UpTo {
			l.errorf(s.Line, "archive_rule: up_to %s must be later than the previous rule's %s (rules go from fine to coarse)",
				FormatDuration(r.UpTo), FormatDuration(rules[n-1].UpTo))
			continue
		}
		rules = append(rules, r)
	}
	return rules
}

// checkKeep warns when archive.keep deletes flows before the coarser
// rules would ever see them.
func (l *loader) checkKeep(f *uci.File) {
	keep := l.c.ArchiveKeep
	if keep == 0 || len(l.c.ArchiveRules) == 0 {
		return
	}
	if last := l.c.ArchiveRules[len(l.c.ArchiveRules)-1]; last.UpTo > keep {
		line := 0
		if s := f.Section("@archive[0]"); s != nil {
			if o := s.Option("keep"); o != nil {
				line = o.Line
			}
		}
		l.warnf(line, "archive keep %s is shorter than the last archive_rule up_to %s; flows are deleted before that rule applies",
			FormatDuration(keep), FormatDuration(last.UpTo))
	}
}

func (l *loader) device(s *uci.Section) {
	var d Device
	for _, o := range s.Options {
		switch o.Name {
		case "mac":
			m, err := NormalizeMAC(last(o))
			if err != nil {
				l.errorf(o.Line, "option mac: %v", err)
				return
			}
			d.MAC = m
		case "name":
			if err := CheckDeviceName(last(o)); err != nil {
				l.errorf(o.Line, "option name: %v", err)
				return
			}
			d.Name = last(o)
		default:
			l.warnf(o.Line, "unknown option '%s' in section device", o.Name)
		}
	}
	switch {
	case d.MAC == "":
		l.errorf(s.Line, "device without option mac")
		return
	case d.Name == "":
		l.errorf(s.Line, "device without option name")
		return
	}
	for i, old := range l.c.Devices {
		if old.MAC == d.MAC {
			l.warnf(s.Line, "second device section for %s; using name %q", d.MAC, d.Name)
			l.c.Devices[i] = d
			return
		}
	}
	l.c.Devices = append(l.c.Devices, d)
}
