package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Write writes the package to file path.
func (p *Package) Write(path string, mtime time.Time) error {
	data, err := p.dataTar(mtime)
	if err != nil {
		return err
	}
	control, err := p.controlTar(len(data), mtime)
	if err != nil {
		return err
	}
	dataGz, err := gzipped(data)
	if err != nil {
		return err
	}
	controlGz, err := gzipped(control)
	if err != nil {
		return err
	}
	outer, err := tarOf(mtime, []member{
		{name: "./debian-binary", mode: 0o644, data: []byte("2.0\n")},
		{name: "./data.tar.gz", mode: 0o644, data: dataGz},
		{name: "./control.tar.gz", mode: 0o644, data: controlGz},
	})
	if err != nil {
		return err
	}
	ipk, err := gzipped(outer)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, ipk, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// member is one tar entry: a file with data, a directory or a link.
type member struct {
	name string
	mode int64
	data []byte
	dir  bool
	link string
}

// dataTar is the uncompressed data.tar: "./" and every entry below it.
func (p *Package) dataTar(mtime time.Time) ([]byte, error) {
	ms := []member{{name: "./", mode: 0o755, dir: true}}
	for _, e := range withParents(p.Entries) {
		name := "." + e.Path
		switch {
		case e.Dir:
			ms = append(ms, member{name: name + "/", mode: 0o755, dir: true})
		case e.Link != "":
			ms = append(ms, member{name: name, mode: 0o777, link: e.Link})
		default:
			b, err := os.ReadFile(e.Src)
			if err != nil {
				return nil, fmt.Errorf("package %s: %w", p.Name, err)
			}
			ms = append(ms, member{name: name, mode: int64(e.Mode.Perm()), data: b})
		}
	}
	return tarOf(mtime, ms)
}

// Control is the text of the control file.
func (p *Package) Control(installedSize int) string {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", p.Name)
	field("Version", p.Version)
	field("Depends", p.Depends)
	field("Source", "feeds/pakon/"+p.Name)
	field("SourceName", p.Name)
	field("Section", p.Section)
	field("URL", "https://github.com/pakon/pakon")
	field("Architecture", p.Arch)
	field("Installed-Size", fmt.Sprint(installedSize))
	fmt.Fprintf(&b, "Description: %s\n", p.Summary)
	for _, l := range strings.Split(p.Description, "\n") {
		fmt.Fprintf(&b, " %s\n", l)
	}
	return b.String()
}

// controlTar is the uncompressed control.tar: control, conffiles and the
// maintainer scripts.
func (p *Package) controlTar(installedSize int, mtime time.Time) ([]byte, error) {
	ms := []member{
		{name: "./", mode: 0o755, dir: true},
		{name: "./control", mode: 0o644, data: []byte(p.Control(installedSize))},
	}
	if len(p.Conffiles) > 0 {
		cf := append([]string(nil), p.Conffiles...)
		sort.Strings(cf)
		ms = append(ms, member{name: "./conffiles", mode: 0o644, data: []byte(strings.Join(cf, "\n") + "\n")})
	}
	names := make([]string, 0, len(p.Scripts))
	for n := range p.Scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ms = append(ms, member{name: "./" + n, mode: 0o755, data: []byte(p.Scripts[n])})
	}
	sort.Slice(ms[1:], func(i, j int) bool { return ms[1+i].name < ms[1+j].name })
	return tarOf(mtime, ms)
}

// tarOf writes members as a GNU tar owned by root, as OpenWrt's
// ipkg-build does (opkg reads ustar and GNU headers, not PAX).
func tarOf(mtime time.Time, ms []member) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{
			Name:    m.name,
			Mode:    m.mode,
			ModTime: mtime,
			Format:  tar.FormatGNU,
			Uname:   "root",
			Gname:   "root",
		}
		switch {
		case m.dir:
			h.Typeflag = tar.TypeDir
		case m.link != "":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = m.link
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(m.data))
		}
		if len(h.Name) > 100 || len(h.Linkname) > 100 {
			// GNU long names would need opkg's optional GNU extensions.
			return nil, fmt.Errorf("tar: name longer than 100 bytes: %s", h.Name)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", m.name, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", m.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipped compresses b without a name or time in the header, as gzip -n.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
