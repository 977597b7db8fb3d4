package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// member is one entry of a tar.
type member struct {
	hdr  *tar.Header
	data []byte
}

// readTarGz reads a gzip-compressed tar the way opkg's reader would
// accept it: ustar or GNU headers only (no PAX), regular files,
// directories and symbolic links.
func readTarGz(t *testing.T, what string, b []byte) ([]member, []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not gzip: %v", what, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []member
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if h.Format&(tar.FormatUSTAR|tar.FormatGNU) == 0 || h.Format&tar.FormatPAX != 0 {
			t.Errorf("%s: %s has tar format %v; opkg reads ustar and GNU headers only", what, h.Name, h.Format)
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink:
		default:
			t.Errorf("%s: %s has type %q", what, h.Name, h.Typeflag)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s owned by %d:%d, want root", what, h.Name, h.Uid, h.Gid)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{h, data})
	}
	return out, raw
}

// ipk is an unpacked package.
type ipk struct {
	file    string
	control map[string]string
	ctl     map[string][]byte // control.tar.gz members by name (control, conffiles, postinst, …)
	data    []member
}

func readIPK(t *testing.T, file string) *ipk {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	outer, _ := readTarGz(t, filepath.Base(file), b)
	byName := map[string][]byte{}
	var names []string
	for _, m := range outer {
		byName[m.hdr.Name] = m.data
		names = append(names, m.hdr.Name)
	}
	sort.Strings(names)
	if want := []string{"./control.tar.gz", "./data.tar.gz", "./debian-binary"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("%s holds %q, want %q", file, names, want)
	}
	if string(byName["./debian-binary"]) != "2.0\n" {
		t.Errorf("debian-binary is %q", byName["./debian-binary"])
	}
	p := &ipk{file: file, ctl: map[string][]byte{}, control: map[string]string{}}
	ctl, _ := readTarGz(t, "control.tar.gz", byName["./control.tar.gz"])
	for _, m := range ctl {
		if m.hdr.Typeflag == tar.TypeReg {
			p.ctl[strings.TrimPrefix(m.hdr.Name, "./")] = m.data
		}
	}
	var rawData []byte
	p.data, rawData = readTarGz(t, "data.tar.gz", byName["./data.tar.gz"])
	key := ""
	for _, l := range strings.Split(string(p.ctl["control"]), "\n") {
		switch {
		case l == "":
		case strings.HasPrefix(l, " "):
			p.control[key] += "\n" + l[1:]
		default:
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				t.Errorf("control line %q", l)
			}
			key = k
			p.control[k] = v
		}
	}
	if got, want := p.control["Installed-Size"], strconv.Itoa(len(rawData)); got != want {
		t.Errorf("Installed-Size %s, want %s (the uncompressed data.tar)", got, want)
	}
	if want := p.control["Package"] + "_" + p.control["Version"] + "_" + p.control["Architecture"] + ".ipk"; filepath.Base(file) != want {
		t.Errorf("file %s, control says %s", filepath.Base(file), want)
	}
	for _, f := range []string{"Package", "Version", "Architecture", "Depends", "Description", "Section"} {
		if p.control[f] == "" {
			t.Errorf("control has no %s", f)
		}
	}
	for _, s := range []string{"postinst", "prerm"} {
		if len(p.ctl[s]) == 0 || !strings.HasPrefix(string(p.ctl[s]), "#!/bin/sh\n") {
			t.Errorf("no %s script", s)
		}
	}
	return p
}

// install unpacks p into root as opkg does: the data files, and the
// control files as /usr/lib/opkg/info/<package>.<name> with the list of
// installed paths.
func (p *ipk) install(t *testing.T, root string) {
	t.Helper()
	name := p.control["Package"]
	var list []string
	for _, m := range p.data {
		rel := strings.TrimPrefix(m.hdr.Name, "./")
		if rel == "" {
			continue
		}
		dst := filepath.Join(root, rel)
		switch m.hdr.Typeflag {
		case tar.TypeDir:
			mustMkdir(t, dst)
		case tar.TypeSymlink:
			mustMkdir(t, filepath.Dir(dst))
			os.Remove(dst)
			if err := os.Symlink(m.hdr.Linkname, dst); err != nil {
				t.Fatal(err)
			}
			list = append(list, "/"+strings.TrimSuffix(rel, "/"))
		default:
			writeFile(t, dst, string(m.data), fs.FileMode(m.hdr.Mode).Perm())
			list = append(list, "/"+rel)
		}
	}
	info := filepath.Join(root, "usr/lib/opkg/info")
	writeFile(t, filepath.Join(info, name+".list"), strings.Join(list, "\n")+"\n", 0o644)
	for n, b := range p.ctl {
		mode := fs.FileMode(0o644)
		if n == "postinst" || n == "prerm" {
			mode = 0o755
		}
		writeFile(t, filepath.Join(info, name+"."+n), string(b), mode)
	}
}

// ipkFiles returns the packages to test: those in $PAKON_IPK_DIR, or else
// the ones "make ipk" builds now from this tree into dist/ (quick once the
// Go build cache holds the cross-compiled SQLite).
func ipkFiles(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("PAKON_IPK_DIR")
	if dir == "" {
		for _, cc := range []string{"aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc"} {
			if _, err := exec.LookPath(cc); err != nil {
				t.Skipf("%s not installed (tests/setup-debian.sh installs it): cannot build the packages", cc)
			}
		}
		cmd := exec.Command("make", "ipk")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make ipk: %v\n%s", err, out)
		}
		dir = filepath.Join(repo, "dist")
	}
	m, err := filepath.Glob(filepath.Join(dir, "*.ipk"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no packages in %s", dir)
	}
	return m
}

// elfWant is what the pakon binary must be for each package architecture,
// and its size target (docs/bench/binary-size.md).
var elfWant = map[string]struct {
	machine elf.Machine
	class   elf.Class
	maxSize int
	check   func(f *elf.File, flags uint32) string
}{
	"aarch64_generic": {elf.EM_AARCH64, elf.ELFCLASS64, 10 << 20, nil},
	"arm_cortex-a7_neon-vfpv4": {elf.EM_ARM, elf.ELFCLASS32, 10 << 20, func(_ *elf.File, flags uint32) string {
		// OpenWrt's arm_cortex-a7_neon-vfpv4 is EABI5 with the hard-float
		// (VFP) calling convention, EF_ARM_ABI_FLOAT_HARD.
		if flags&0xff000000 != 0x05000000 || flags&0x400 == 0 {
			return fmt.Sprintf("e_flags %#x: not EABI5 hard-float", flags)
		}
		return ""
	}},
	"mipsel_24kc": {elf.EM_MIPS, elf.ELFCLASS32, 10 << 20, func(f *elf.File, flags uint32) string {
		// OpenWrt's mipsel_24kc: little-endian MIPS32r2, o32. Soft-float
		// has no e_flags bit; make test-cross-mipsel runs the code on an
		// FPU-less 24Kc.
		if f.ByteOrder != binary.LittleEndian {
			return "big-endian, want mipsel"
		}
		if flags&0xf0000000 != 0x70000000 || flags&0xf000 != 0x1000 {
			return fmt.Sprintf("e_flags %#x: not MIPS32r2 o32", flags)
		}
		return ""
	}},
}

// elfFlags returns the e_flags field of an ELF header.
func elfFlags(f *elf.File, b []byte) uint32 {
	off := 36 // ELF32
	if f.Class == elf.ELFCLASS64 {
		off = 48
	}
	return f.ByteOrder.Uint32(b[off : off+4])
}

// checkBinary: the right machine, and static (no PT_INTERP), since
// OpenWrt has musl's dynamic loader and these binaries come from glibc
// toolchains.
func checkBinary(t *testing.T, arch string, b []byte) {
	t.Helper()
	want, ok := elfWant[arch]
	if !ok {
		t.Fatalf("unknown architecture %s", arch)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("/usr/bin/pakon: %v", err)
	}
	if f.Machine != want.machine || f.Class != want.class {
		t.Errorf("/usr/bin/pakon is %v %v, want %v %v", f.Class, f.Machine, want.class, want.machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("/usr/bin/pakon is dynamically linked; OpenWrt (musl) cannot load it")
		}
	}
	if want.check != nil {
		if msg := want.check(f, elfFlags(f, b)); msg != "" {
			t.Errorf("/usr/bin/pakon: %s", msg)
		}
	}
	if len(b) > want.maxSize {
		t.Errorf("/usr/bin/pakon is %d bytes, over the %d MB target", len(b), want.maxSize>>20)
	}
}

// checkTree compares the installed pakon files with the sources.
func checkPakonTree(t *testing.T, root string) {
	t.Helper()
	modes := map[string]fs.FileMode{
		"usr/bin/pakon": 0o755, "etc/init.d/pakon": 0o755, "etc/init.d/pakon-suricata": 0o755,
		"etc/uci-defaults/90-pakon": 0o755, "etc/config/pakon": 0o600,
	}
	same := map[string]string{
		"etc/init.d/pakon":                "files/etc/init.d/pakon",
		"etc/init.d/pakon-suricata":       "files/etc/init.d/pakon-suricata",
		"etc/config/pakon":                "files/etc/config/pakon",
		"etc/pakon/suricata.yaml":         "files/etc/pakon/suricata.yaml",
		"etc/uci-defaults/90-pakon":       "uci-defaults/90-pakon",
		"usr/share/rpcd/acl.d/pakon.json": "rpcd/pakon.json",
		"usr/share/pakon/domains_replace": "lists/domains_replace",
		"usr/share/pakon/domains_ignore":  "lists/domains_ignore",
	}
	for dst, src := range same {
		got, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Errorf("not installed: /%s", dst)
			continue
		}
		if string(got) != readFile(t, filepath.Join(repo, src)) {
			t.Errorf("/%s differs from %s", dst, src)
		}
	}
	for p, m := range modes {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode().Perm() != m {
			t.Errorf("/%s: mode %v (%v), want %v", p, fi.Mode(), err, m)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "usr/bin/pakon-show")); err != nil || l != "pakon" {
		t.Errorf("/usr/bin/pakon-show -> %q (%v), want pakon", l, err)
	}
	var acl any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(root, "usr/share/rpcd/acl.d/pakon.json"))), &acl); err != nil {
		t.Errorf("installed ACL: %v", err)
	}
}

// checkLuciTree: every file of luci-app-pakon/htdocs and root is
// installed under /www and /, and the JSON ones (menu, ACL) parse.
func checkLuciTree(t *testing.T, root string) {
	t.Helper()
	n := 0
	for src, dst := range map[string]string{"htdocs": "www", "root": ""} {
		base := filepath.Join(repo, "luci-app-pakon", src)
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			rel, _ := filepath.Rel(base, p)
			got, err := os.ReadFile(filepath.Join(root, dst, rel))
			n++
			if err != nil {
				t.Errorf("not installed: /%s", path.Join(dst, rel))
				return nil
			}
			if string(got) != readFile(t, p) {
				t.Errorf("/%s differs from %s", path.Join(dst, rel), p)
			}
			if strings.HasSuffix(p, ".json") && !json.Valid(got) {
				t.Errorf("/%s is not valid JSON", path.Join(dst, rel))
			}
			return nil
		})
	}
	for _, must := range []string{"usr/share/luci/menu.d/luci-app-pakon.json", "usr/share/rpcd/acl.d/luci-app-pakon.json"} {
		if _, err := os.Stat(filepath.Join(repo, "luci-app-pakon/root", must)); err == nil {
			if _, err := os.Stat(filepath.Join(root, must)); err != nil {
				t.Errorf("not installed: /%s", must)
			}
		}
	}
	t.Logf("luci-app-pakon: %d files checked", n)
}

// imageRoot is a directory like the root file system OpenWrt's image
// builder assembles: base-files' shell libraries (the stand-ins) and
// /etc/rc.d. Scripts run on the build host with IPKG_INSTROOT pointing at
// it, so no chroot is needed.
func imageRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	stubs := filepath.Join(repo, "tests/packaging/testdata/openwrt")
	copyFile(t, filepath.Join(stubs, "lib/functions.sh"), filepath.Join(root, "lib/functions.sh"), 0o644)
	copyFile(t, filepath.Join(stubs, "lib/functions/procd.sh"), filepath.Join(root, "lib/functions/procd.sh"), 0o644)
	copyFile(t, filepath.Join(stubs, "etc/rc.common"), filepath.Join(root, "etc/rc.common"), 0o755)
	mustMkdir(t, filepath.Join(root, "etc/rc.d"))
	mustMkdir(t, filepath.Join(root, "tmp"))
	return root
}

// runScript runs a maintainer script on the host for an image build.
func runImageScript(t *testing.T, root, pkg, script, arg string) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join(root, "usr/lib/opkg/info", pkg+"."+script), arg)
	cmd.Env = append(os.Environ(), "IPKG_INSTROOT="+root, "PROCD_LOG="+filepath.Join(root, "tmp/procd.log"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s %s: %v\n%s", pkg, script, arg, err, out)
	}
}

var rcLinks = map[string]string{
	"S80pakon": "../init.d/pakon", "K10pakon": "../init.d/pakon",
	"S81pakon-suricata": "../init.d/pakon-suricata", "K09pakon-suricata": "../init.d/pakon-suricata",
}

func rcDir(t *testing.T, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	ents, _ := os.ReadDir(filepath.Join(root, "etc/rc.d"))
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(root, "etc/rc.d", e.Name()))
		got[e.Name()] = l
	}
	return got
}

// TestIPK checks every package in dist: its layout and control fields,
// the installed tree, and its maintainer scripts in an image build
// (IPKG_INSTROOT set: only enable the services) and, as root, on a running
// system in a chroot (apply uci-defaults, enable and start; on removal
// stop and disable).
func TestIPK(t *testing.T) {
	files := ipkFiles(t)
	var arches []string
	luci := 0
	for _, file := range files {
		file := file
		t.Run(filepath.Base(file), func(t *testing.T) {
			p := readIPK(t, file)
			switch p.control["Package"] {
			case "pakon":
				arches = append(arches, p.control["Architecture"])
				testPakonIPK(t, p)
			case "luci-app-pakon":
				luci++
				testLuciIPK(t, p)
			default:
				t.Errorf("unexpected package %q", p.control["Package"])
			}
		})
	}
	sort.Strings(arches)
	// The architectures of "make cross".
	if want := []string{"aarch64_generic", "arm_cortex-a7_neon-vfpv4", "mipsel_24kc"}; !reflect.DeepEqual(arches, want) {
		t.Errorf("pakon packages for %q, want %q", arches, want)
	}
	if luci != 1 {
		t.Errorf("%d luci-app-pakon packages, want 1", luci)
	}
}

func testPakonIPK(t *testing.T, p *ipk) {
	deps := p.control["Depends"]
	if !strings.Contains(deps, "libc") || !strings.Contains(deps, "suricata") {
		t.Errorf("Depends %q lacks libc or suricata", deps)
	}
	cf := strings.Fields(string(p.ctl["conffiles"]))
	if !reflect.DeepEqual(cf, []string{"/etc/config/pakon", "/etc/pakon/suricata.yaml"}) {
		t.Errorf("conffiles %q", cf)
	}

	// Image build.
	root := imageRoot(t)
	p.install(t, root)
	checkPakonTree(t, root)
	checkBinary(t, p.control["Architecture"], []byte(readFile(t, filepath.Join(root, "usr/bin/pakon"))))
	runImageScript(t, root, "pakon", "postinst", "configure")
	if got := rcDir(t, root); !reflect.DeepEqual(got, rcLinks) {
		t.Errorf("image build: rc.d %v, want %v", got, rcLinks)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/uci-defaults/90-pakon")); err != nil {
		t.Errorf("image build: uci-defaults must wait for the first boot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "tmp/procd.log")); err == nil {
		t.Errorf("image build: a service was started: %s", readFile(t, filepath.Join(root, "tmp/procd.log")))
	}
	runImageScript(t, root, "pakon", "prerm", "remove")
	if got := rcDir(t, root); len(got) != 0 {
		t.Errorf("image build: rc.d after prerm %v", got)
	}

	// A running router.
	if os.Geteuid() != 0 {
		t.Log("not root: the install on a running system (chroot) is not tested")
		return
	}
	live := newRoot(t)
	writeFile(t, filepath.Join(live, "usr/bin/suricata"), "#!/bin/sh\nexit 0\n", 0o755)
	p.install(t, live)
	mustChroot(t, live, "/usr/lib/opkg/info/pakon.postinst configure", "PKG_UPGRADE=0")
	if _, err := os.Stat(filepath.Join(live, "etc/uci-defaults/90-pakon")); !os.IsNotExist(err) {
		t.Errorf("running system: uci-defaults/90-pakon not applied and removed (%v)", err)
	}
	if got := rcDir(t, live); !reflect.DeepEqual(got, rcLinks) {
		t.Errorf("running system: rc.d %v, want %v", got, rcLinks)
	}
	started := map[string]bool{}
	for _, s := range services(t, procdLog(t, live)) {
		if s.method == "set" && len(s.instances) == 1 {
			started[s.name] = true
		}
	}
	if !started["pakon"] || !started["pakon-suricata"] {
		t.Errorf("running system: started %v, want pakon and pakon-suricata", started)
	}
	mustChroot(t, live, "/usr/lib/opkg/info/pakon.prerm remove", "PKG_UPGRADE=0")
	killed := map[string]bool{}
	for _, s := range services(t, procdLog(t, live)) {
		if s.method == "kill" {
			killed[s.name] = true
		}
	}
	if !killed["pakon"] || !killed["pakon-suricata"] {
		t.Errorf("running system: prerm stopped %v, want pakon and pakon-suricata", killed)
	}
	if got := rcDir(t, live); len(got) != 0 {
		t.Errorf("running system: rc.d after prerm %v", got)
	}
}

func testLuciIPK(t *testing.T, p *ipk) {
	if p.control["Architecture"] != "all" {
		t.Errorf("Architecture %q, want all", p.control["Architecture"])
	}
	for _, d := range []string{"luci-base", "pakon"} {
		if !strings.Contains(p.control["Depends"], d) {
			t.Errorf("Depends %q lacks %s", p.control["Depends"], d)
		}
	}
	root := imageRoot(t)
	p.install(t, root)
	checkLuciTree(t, root)
	runImageScript(t, root, "luci-app-pakon", "postinst", "configure")
	runImageScript(t, root, "luci-app-pakon", "prerm", "remove")
}
