package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is one file, link or directory a package installs.
type Entry struct {
	// Path is where it is installed, absolute: "/usr/bin/pakon".
	Path string
	// Mode holds the permission bits (a directory or link ignores them).
	Mode fs.FileMode
	// Src is the file on disk to copy; "" for links and directories.
	Src string
	// Link is a symbolic link's target; "" for files and directories.
	Link string
	// Dir marks a directory.
	Dir bool
}

// Package is an .ipk to write.
type Package struct {
	Name, Version, Arch string
	// Depends is the control field as opkg reads it: comma-separated,
	// alternatives with "|".
	Depends     string
	Section     string
	Summary     string
	Description string
	Entries     []Entry
	// Conffiles are the installed paths opkg keeps when the user edited
	// them.
	Conffiles []string
	// Scripts are the maintainer scripts by name (postinst, prerm).
	Scripts map[string]string
}

// FileName is NAME_VERSION_ARCH.ipk, the name opkg feeds use.
func (p *Package) FileName() string {
	return fmt.Sprintf("%s_%s_%s.ipk", p.Name, p.Version, p.Arch)
}

// postinst and prerm follow OpenWrt's convention: base-files'
// /lib/functions.sh does the work. When installing into an image
// (IPKG_INSTROOT set) default_postinst only enables the init scripts; on a
// running router it also applies the package's uci-defaults and starts the
// services, and default_prerm disables and stops them. Without base-files
// (not an OpenWrt root) they do nothing.
const postinst = `#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions.sh"
default_postinst "$0" "$@"
`

const prerm = `#!/bin/sh
[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions.sh"
default_prerm "$0" "$@"
`

// PakonPackage describes the pakon package: the binary for arch and the
// files from the source tree at root.
func PakonPackage(root, bin, arch, version string) (*Package, error) {
	p := &Package{
		Name:    "pakon",
		Version: version,
		Arch:    arch,
		// OpenWrt's packages feed calls Suricata suricata6 (and will name
		// newer majors alike); Turris OS calls it suricata.
		Depends: "libc, suricata6 | suricata7 | suricata8 | suricata",
		Section: "net",
		Summary: "Per-device network history from Suricata",
		Description: "pakon records which device on the LAN talked to which host, when and how\n" +
			"much, from Suricata's EVE output, in SQLite. It answers over ubus (LuCI:\n" +
			"luci-app-pakon) and on the command line (pakon-show).",
		Scripts: map[string]string{"postinst": postinst, "prerm": prerm},
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("pakon binary: %w", err)
	}
	p.Entries = append(p.Entries,
		Entry{Path: "/usr/bin/pakon", Mode: 0o755, Src: bin},
		Entry{Path: "/usr/bin/pakon-show", Link: "pakon"},
	)
	trees := []struct {
		src, dst string
		mode     func(rel string, m fs.FileMode) fs.FileMode
	}{
		// files/etc minus what only Debian/systemd installs use.
		{"files/etc", "/etc", etcMode},
		{"uci-defaults", "/etc/uci-defaults", func(string, fs.FileMode) fs.FileMode { return 0o755 }},
		{"rpcd", "/usr/share/rpcd/acl.d", dataMode},
		// ubusd's own ACL, for callers that bypass rpcd.
		{"ubusd", "/usr/share/acl.d", dataMode},
		{"lists", "/usr/share/pakon", dataMode},
	}
	for _, t := range trees {
		es, err := tree(filepath.Join(root, t.src), t.dst, t.mode)
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, es...)
	}
	for _, e := range p.Entries {
		if e.Src != "" && (strings.HasPrefix(e.Path, "/etc/config/") || strings.HasPrefix(e.Path, "/etc/pakon/")) {
			p.Conffiles = append(p.Conffiles, e.Path)
		}
	}
	return p, nil
}

// LuciPackage describes luci-app-pakon: luci-app-pakon/htdocs goes to
// /www and luci-app-pakon/root to /, as LuCI's luci.mk installs them.
func LuciPackage(root, version string) (*Package, error) {
	p := &Package{
		Name:        "luci-app-pakon",
		Version:     version,
		Arch:        "all",
		Depends:     "libc, luci-base, pakon",
		Section:     "luci",
		Summary:     "LuCI support for pakon",
		Description: "Web pages for pakon: per-device network history, devices and settings.",
		Scripts:     map[string]string{"postinst": postinst, "prerm": prerm},
	}
	for _, t := range []struct{ src, dst string }{{"htdocs", "/www"}, {"root", "/"}} {
		es, err := tree(filepath.Join(root, "luci-app-pakon", t.src), t.dst, keepMode)
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, es...)
	}
	for _, e := range p.Entries {
		if e.Src != "" && strings.HasPrefix(e.Path, "/etc/config/") {
			p.Conffiles = append(p.Conffiles, e.Path)
		}
	}
	return p, nil
}

// etcMode: init scripts and uci-defaults run, UCI files are private (as
// OpenWrt's INSTALL_CONF installs them), the rest is data.
func etcMode(rel string, m fs.FileMode) fs.FileMode {
	switch {
	case strings.HasPrefix(rel, "init.d/"), strings.HasPrefix(rel, "uci-defaults/"), strings.HasPrefix(rel, "hotplug.d/"):
		return 0o755
	case strings.HasPrefix(rel, "config/"):
		return 0o600
	}
	return dataMode(rel, m)
}

func dataMode(string, fs.FileMode) fs.FileMode { return 0o644 }

func keepMode(_ string, m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// skipped are source files that are not installed: editor and VCS files,
// and what only a Debian (systemd) installation uses.
func skipped(rel string, d fs.DirEntry) bool {
	base := d.Name()
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") {
		return true
	}
	return rel == "systemd" || rel == "default"
}

// tree lists the files under src (which may be missing) as entries below
// dst.
func tree(src, dst string, mode func(rel string, m fs.FileMode) fs.FileMode) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == src && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skipped(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		target := path.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out = append(out, Entry{Path: target, Dir: true})
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, Entry{Path: target, Link: l})
		case info.Mode().IsRegular():
			out = append(out, Entry{Path: target, Src: p, Mode: mode(rel, info.Mode())})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	return out, nil
}

// withParents returns the entries sorted by path with every parent
// directory listed, as "tar --sort=name" of the staged tree has them.
func withParents(entries []Entry) []Entry {
	byPath := map[string]Entry{}
	for _, e := range entries {
		byPath[e.Path] = e
		for d := path.Dir(e.Path); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = Entry{Path: d, Dir: true}
			}
		}
	}
	out := make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		if e.Path != "/" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
