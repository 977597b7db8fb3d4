package luci

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/uci"
)

// UCI is a stand-in for rpcd's "uci" ubus object over the config files in
// Dir: set, add and delete stage changes (rpcd keeps them per session in
// /tmp/.uci; here there is one session), get shows the files with the
// staged changes applied, commit and apply write them with pakon's uci
// package. Files are read anew on every call, so changes other programs
// make (pakon's set_device_name) show at once.
//
// Deviations from rpcd: anonymous sections are named cfgNNXXXX from their
// position in the file and a checksum of their type (libuci hashes their
// contents); apply commits at once and never rolls back; order and rename
// are not implemented; comments in the file are kept (uci commit drops
// them).
type UCI struct {
	Dir string

	mu     sync.Mutex
	deltas map[string][]change // by config
	added  int                 // names handed out for new anonymous sections
}

type change struct {
	op      string // add, set, delete
	section string
	typ     string         // add
	named   bool           // add: a named section
	values  map[string]any // add, set
	options []string       // delete: nil removes the section
}

// Object returns the ubus object to register.
func (u *UCI) Object() *ubus.Object {
	m := func(name string, h ubus.Handler) ubus.Method { return ubus.Method{Name: name, Handler: h} }
	return &ubus.Object{Name: "uci", Methods: []ubus.Method{
		m("get", u.get), m("set", u.set), m("add", u.add), m("delete", u.del),
		m("changes", u.changes), m("commit", u.commit), m("revert", u.revert),
		m("apply", u.apply), m("confirm", u.confirm),
	}}
}

func badArg(format string, v ...any) error {
	return ubus.Errorf(ubus.StatusInvalidArgument, format, v...)
}

func configArg(args map[string]any) (string, error) {
	c, _ := args["config"].(string)
	if c == "" || filepath.Base(c) != c {
		return "", badArg("config: need a config name")
	}
	return c, nil
}

// view is one config file with the staged changes applied and the
// section names rpcd would show.
type view struct {
	f     *uci.File
	names map[*uci.Section]string
}

func (v *view) section(name string) *uci.Section {
	for s, n := range v.names {
		if n == name {
			return s
		}
	}
	return nil
}

// load reads config and applies its staged changes; u.mu is held.
func (u *UCI) load(config string) (*view, error) {
	path := filepath.Join(u.Dir, config)
	f, err := uci.Load(path)
	if os.IsNotExist(err) {
		return nil, ubus.Errorf(ubus.StatusNotFound, "no config %s", config)
	}
	if err != nil {
		return nil, err
	}
	v := &view{f: f, names: map[*uci.Section]string{}}
	for i, s := range f.Sections {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("cfg%02x%04x", i+1, crc32.ChecksumIEEE([]byte(s.Type))&0xffff)
		}
		v.names[s] = name
	}
	for _, c := range u.deltas[config] {
		switch c.op {
		case "add":
			s := f.Add(c.typ, "")
			if c.named {
				s.Name = c.section
			}
			v.names[s] = c.section
			setValues(s, c.values)
		case "set":
			if s := v.section(c.section); s != nil {
				setValues(s, c.values)
			}
		case "delete":
			s := v.section(c.section)
			switch {
			case s == nil:
			case c.options == nil:
				f.Remove(s)
				delete(v.names, s)
			default:
				for _, o := range c.options {
					s.Del(o)
				}
			}
		}
	}
	return v, nil
}

func setValues(s *uci.Section, values map[string]any) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || k[0] == '.' {
			continue
		}
		switch v := values[k].(type) {
		case []any:
			var list []string
			for _, e := range v {
				list = append(list, fmt.Sprint(e))
			}
			s.SetList(k, list...)
		case nil:
			s.Del(k)
		default:
			s.Set(k, fmt.Sprint(v))
		}
	}
}

func sectionValues(v *view, s *uci.Section, index int) map[string]any {
	out := map[string]any{".anonymous": s.Name == "", ".type": s.Type, ".name": v.names[s], ".index": index}
	for _, o := range s.Options {
		if o.IsList {
			out[o.Name] = append([]string(nil), o.Values...)
		} else if len(o.Values) > 0 {
			out[o.Name] = o.Values[len(o.Values)-1]
		}
	}
	return out
}

func (u *UCI) get(ctx context.Context, req *ubus.Request) (any, error) {
	args := req.Args.Map()
	config, err := configArg(args)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	v, err := u.load(config)
	if err != nil {
		return nil, err
	}
	section, _ := args["section"].(string)
	option, _ := args["option"].(string)
	typ, _ := args["type"].(string)
	all := map[string]any{}
	for i, s := range v.f.Sections {
		vals := sectionValues(v, s, i)
		if section != "" && v.names[s] == section {
			if option == "" {
				return map[string]any{"values": vals}, nil
			}
			if val, ok := vals[option]; ok {
				return map[string]any{"value": val}, nil
			}
			return nil, ubus.Errorf(ubus.StatusNotFound, "no option %s", option)
		}
		if typ == "" || s.Type == typ {
			all[v.names[s]] = vals
		}
	}
	if section != "" {
		return nil, ubus.Errorf(ubus.StatusNotFound, "no section %s", section)
	}
	return map[string]any{"values": all}, nil
}

func (u *UCI) stage(config string, c change) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.deltas == nil {
		u.deltas = map[string][]change{}
	}
	u.deltas[config] = append(u.deltas[config], c)
	if _, err := u.load(config); err != nil {
		u.deltas[config] = u.deltas[config][:len(u.deltas[config])-1]
		return err
	}
	return nil
}

func (u *UCI) set(ctx context.Context, req *ubus.Request) (any, error) {
	args := req.Args.Map()
	config, err := configArg(args)
	if err != nil {
		return nil, err
	}
	section, _ := args["section"].(string)
	values, _ := args["values"].(map[string]any)
	if section == "" || values == nil {
		return nil, badArg("set: need section and values")
	}
	u.mu.Lock()
	v, err := u.load(config)
	u.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if v.section(section) == nil {
		return nil, ubus.Errorf(ubus.StatusNotFound, "no section %s", section)
	}
	return nil, u.stage(config, change{op: "set", section: section, values: values})
}

func (u *UCI) add(ctx context.Context, req *ubus.Request) (any, error) {
	args := req.Args.Map()
	config, err := configArg(args)
	if err != nil {
		return nil, err
	}
	typ, _ := args["type"].(string)
	name, _ := args["name"].(string)
	values, _ := args["values"].(map[string]any)
	if typ == "" {
		return nil, badArg("add: need type")
	}
	named := name != ""
	if !named {
		u.mu.Lock()
		u.added++
		name = fmt.Sprintf("cfg%02x%04x", 0xf0+u.added%16, crc32.ChecksumIEEE([]byte(typ))&0xffff)
		u.mu.Unlock()
	}
	if err := u.stage(config, change{op: "add", section: name, typ: typ, named: named, values: values}); err != nil {
		return nil, err
	}
	return map[string]any{"section": name}, nil
}

func (u *UCI) del(ctx context.Context, req *ubus.Request) (any, error) {
	args := req.Args.Map()
	config, err := configArg(args)
	if err != nil {
		return nil, err
	}
	section, _ := args["section"].(string)
	if section == "" {
		return nil, badArg("delete: need section")
	}
	c := change{op: "delete", section: section}
	if o, ok := args["option"].(string); ok && o != "" {
		c.options = []string{o}
	}
	if list, ok := args["options"].([]any); ok {
		c.options = []string{}
		for _, o := range list {
			c.options = append(c.options, fmt.Sprint(o))
		}
	}
	return nil, u.stage(config, c)
}

func (u *UCI) changes(ctx context.Context, req *ubus.Request) (any, error) {
	args := req.Args.Map()
	only, _ := args["config"].(string)
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string]any{}
	for config, list := range u.deltas {
		if only != "" && config != only || len(list) == 0 {
			continue
		}
		var rows []any
		for _, c := range list {
			rows = append(rows, []any{c.op, c.section})
		}
		out[config] = rows
	}
	return map[string]any{"changes": out}, nil
}

// commitLocked writes config with its staged changes; u.mu is held.
func (u *UCI) commitLocked(config string) error {
	if len(u.deltas[config]) == 0 {
		return nil
	}
	v, err := u.load(config)
	if err != nil {
		return err
	}
	if err := v.f.Save(); err != nil {
		return fmt.Errorf("commit %s: %w", config, err)
	}
	delete(u.deltas, config)
	return nil
}

func (u *UCI) commit(ctx context.Context, req *ubus.Request) (any, error) {
	config, err := configArg(req.Args.Map())
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return nil, u.commitLocked(config)
}

func (u *UCI) revert(ctx context.Context, req *ubus.Request) (any, error) {
	config, err := configArg(req.Args.Map())
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.deltas, config)
	return nil, nil
}

func (u *UCI) apply(ctx context.Context, req *ubus.Request) (any, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	configs := make([]string, 0, len(u.deltas))
	for c := range u.deltas {
		configs = append(configs, c)
	}
	sort.Strings(configs)
	for _, c := range configs {
		if err := u.commitLocked(c); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (u *UCI) confirm(ctx context.Context, req *ubus.Request) (any, error) { return nil, nil }

// Session is a stand-in for rpcd's "session" object: "access" answers from
// the ACL, for the one session there is.
func Session(acl *ACL) *ubus.Object {
	return &ubus.Object{Name: "session", Methods: []ubus.Method{{Name: "access",
		Handler: func(ctx context.Context, req *ubus.Request) (any, error) {
			a := req.Args.Map()
			scope, _ := a["scope"].(string)
			object, _ := a["object"].(string)
			function, _ := a["function"].(string)
			return map[string]any{"access": acl.Access(scope, object, function)}, nil
		}}}}
}
