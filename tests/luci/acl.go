// Package luci is a test harness for luci-app-pakon off the router: an
// HTTP server shaped like uhttpd with its ubus JSON-RPC endpoint (/ubus),
// the rpcd objects LuCI needs besides pakon's own (session access checks
// from the app's ACL file, uci reading and writing a config directory), and
// the static files of the app and of the small LuCI stand-in in www/.
//
// The browser tests in luci_test.go start a ubus broker, the real pakon
// daemon, these objects and the server, and drive Debian's chromium
// through playwright-core (browser/*.mjs).
package luci

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
)

// ACL is what one rpcd session may do, read from rpcd ACL files
// (/usr/share/rpcd/acl.d/*.json): per group, "read" and "write" grants of
// ubus object methods and uci configs.
type ACL struct {
	// Groups are the grants by group name.
	Groups map[string]Grant
	// ReadOnly drops the write grants, like a LuCI user given only read
	// access to the app.
	ReadOnly bool
}

// Grant is one group's read and write permissions.
type Grant struct {
	Description string `json:"description"`
	Read        Perms  `json:"read"`
	Write       Perms  `json:"write"`
}

// Perms lists ubus methods by object (wildcards as rpcd matches them with
// fnmatch) and uci config names.
type Perms struct {
	Ubus map[string][]string `json:"ubus"`
	UCI  []string            `json:"uci"`
}

// LoadACL reads rpcd ACL files.
func LoadACL(files ...string) (*ACL, error) {
	a := &ACL{Groups: map[string]Grant{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read acl: %w", err)
		}
		var groups map[string]Grant
		if err := json.Unmarshal(data, &groups); err != nil {
			return nil, fmt.Errorf("parse acl %s: %w", f, err)
		}
		for name, g := range groups {
			a.Groups[name] = g
		}
	}
	return a, nil
}

func match(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// AllowUbus reports whether the session may call object.method.
func (a *ACL) AllowUbus(object, method string) bool {
	for _, g := range a.grants() {
		for obj, methods := range g.Ubus {
			if !match(obj, object) {
				continue
			}
			for _, m := range methods {
				if match(m, method) {
					return true
				}
			}
		}
	}
	return false
}

// AllowUCI reports whether the session may read (write false) or write
// the uci config.
func (a *ACL) AllowUCI(config string, write bool) bool {
	for _, g := range a.Groups {
		list := g.Read.UCI
		if write {
			if a.ReadOnly {
				continue
			}
			list = g.Write.UCI
		}
		for _, c := range list {
			if match(c, config) {
				return true
			}
		}
	}
	return false
}

// grants returns the permissions in force, read before write.
func (a *ACL) grants() []Perms {
	names := make([]string, 0, len(a.Groups))
	for n := range a.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Perms
	for _, n := range names {
		out = append(out, a.Groups[n].Read)
		if !a.ReadOnly {
			out = append(out, a.Groups[n].Write)
		}
	}
	return out
}

// Access answers rpcd's "session access" for a scope ("ubus", "uci" or
// other), object and function ("read"/"write" for uci, a method for ubus).
func (a *ACL) Access(scope, object, function string) bool {
	switch scope {
	case "ubus":
		return a.AllowUbus(object, function)
	case "uci":
		return a.AllowUCI(object, function == "write")
	}
	return false
}
