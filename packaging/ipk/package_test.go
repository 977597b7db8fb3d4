package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustTree builds a small pakon source tree with the given files.
func mustTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// untar returns the names and contents of a gzip'd tar.
func untar(t *testing.T, b []byte) ([]string, map[string]*tar.Header, map[string]string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	hdrs := map[string]*tar.Header{}
	data := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		hdrs[h.Name] = h
		data[h.Name] = string(b)
	}
	return names, hdrs, data
}

func TestPakonPackage(t *testing.T) {
	root := mustTree(t, map[string]string{
		"bin/pakon":                       "\x7fELF fake",
		"files/etc/init.d/pakon":          "#!/bin/sh /etc/rc.common\n",
		"files/etc/config/pakon":          "config monitor 'monitor'\n",
		"files/etc/pakon/suricata.yaml":   "%YAML 1.1\n",
		"files/etc/systemd/pakon.service": "[Unit]\n",
		"files/etc/init.d/.pakon.swp":     "editor",
		"uci-defaults/90-pakon":           "exit 0\n",
		"rpcd/pakon.json":                 "{}\n",
		"ubusd/pakon.json":                "{}\n",
		"lists/domains_ignore":            "ads.example\n",
	})
	p, err := PakonPackage(root, filepath.Join(root, "bin/pakon"), "aarch64_generic", "1.2-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.FileName(); got != "pakon_1.2-1_aarch64_generic.ipk" {
		t.Errorf("FileName %s", got)
	}
	if want := []string{"/etc/config/pakon", "/etc/pakon/suricata.yaml"}; !reflect.DeepEqual(p.Conffiles, want) {
		t.Errorf("Conffiles %q, want %q", p.Conffiles, want)
	}
	out := filepath.Join(t.TempDir(), p.FileName())
	mtime := time.Unix(1700000000, 0)
	if err := p.Write(out, mtime); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	names, _, outer := untar(t, b)
	if want := []string{"./debian-binary", "./data.tar.gz", "./control.tar.gz"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("outer %q, want %q", names, want)
	}
	dataNames, hdrs, _ := untar(t, []byte(outer["./data.tar.gz"]))
	want := []string{"./", "./etc/", "./etc/config/", "./etc/config/pakon", "./etc/init.d/", "./etc/init.d/pakon",
		"./etc/pakon/", "./etc/pakon/suricata.yaml", "./etc/uci-defaults/", "./etc/uci-defaults/90-pakon",
		"./usr/", "./usr/bin/", "./usr/bin/pakon", "./usr/bin/pakon-show", "./usr/share/", "./usr/share/acl.d/", "./usr/share/acl.d/pakon.json", "./usr/share/pakon/",
		"./usr/share/pakon/domains_ignore", "./usr/share/rpcd/", "./usr/share/rpcd/acl.d/", "./usr/share/rpcd/acl.d/pakon.json"}
	if !reflect.DeepEqual(dataNames, want) {
		t.Errorf("data.tar\n got %q\nwant %q", dataNames, want)
	}
	modes := map[string]int64{"./usr/bin/pakon": 0o755, "./etc/init.d/pakon": 0o755, "./etc/config/pakon": 0o600,
		"./etc/uci-defaults/90-pakon": 0o755, "./usr/share/rpcd/acl.d/pakon.json": 0o644, "./usr/share/acl.d/pakon.json": 0o644}
	for n, m := range modes {
		if h := hdrs[n]; h == nil || h.Mode != m || h.Uid != 0 || !h.ModTime.Equal(mtime) || h.Format != tar.FormatGNU {
			t.Errorf("%s: %+v, want mode %o, root, GNU format, the given time", n, h, m)
		}
	}
	if h := hdrs["./usr/bin/pakon-show"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "pakon" {
		t.Errorf("pakon-show: %+v", h)
	}
	_, _, ctl := untar(t, []byte(outer["./control.tar.gz"]))
	if ctl["./conffiles"] != "/etc/config/pakon\n/etc/pakon/suricata.yaml\n" {
		t.Errorf("conffiles %q", ctl["./conffiles"])
	}
	for _, f := range []string{"Package: pakon\n", "Version: 1.2-1\n", "Architecture: aarch64_generic\n", "Depends: libc, suricata"} {
		if !strings.Contains(ctl["./control"], f) {
			t.Errorf("control lacks %q:\n%s", f, ctl["./control"])
		}
	}
	if !strings.Contains(ctl["./postinst"], "default_postinst") || !strings.Contains(ctl["./prerm"], "default_prerm") {
		t.Errorf("maintainer scripts do not call base-files' hooks")
	}
}

// TestReproducible: the same tree and time give the same bytes.
func TestReproducible(t *testing.T) {
	root := mustTree(t, map[string]string{"luci-app-pakon/htdocs/luci-static/resources/view/pakon/overview.js": "'use strict';\n"})
	var out [2][]byte
	for i := range out {
		p, err := LuciPackage(root, "1-1")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), p.FileName())
		if err := p.Write(path, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		out[i], _ = os.ReadFile(path)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two builds differ")
	}
}

func TestLongName(t *testing.T) {
	p := &Package{Name: "x", Version: "1", Arch: "all", Entries: []Entry{{Path: "/" + strings.Repeat("d", 120), Dir: true}}}
	if err := p.Write(filepath.Join(t.TempDir(), "x.ipk"), time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "longer than 100") {
		t.Errorf("a 120-byte name: err %v, want a refusal (opkg may not read GNU long names)", err)
	}
}
