// Command ipk builds pakon's OpenWrt packages (.ipk) without the OpenWrt
// SDK: pakon for one architecture from a cross-built binary, and
// luci-app-pakon for all architectures.
//
// An .ipk, as OpenWrt's opkg reads it since 2017, is a gzip-compressed tar
// (ar is no longer accepted) holding ./debian-binary ("2.0"),
// ./data.tar.gz (the files, rooted at ./) and ./control.tar.gz (control,
// conffiles and the maintainer scripts). The tars use the GNU format with
// numeric owner root and one modification time for reproducible packages.
// Installed-Size is the size of the uncompressed data tar, as OpenWrt's
// ipkg-build computes it.
//
// Usage:
//
//	ipk -pkg pakon -arch aarch64_generic -bin dist/aarch64/pakon -version V -out dist
//	ipk -pkg luci-app-pakon -version V -out dist
//
// It prints the path of the package it wrote.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	pkg := flag.String("pkg", "pakon", "package to build: pakon or luci-app-pakon")
	arch := flag.String("arch", "", "OpenWrt package architecture of -bin, e.g. aarch64_generic (pakon only)")
	bin := flag.String("bin", "", "cross-built pakon `binary` (pakon only)")
	version := flag.String("version", "", "package version, e.g. 0.1.0-1")
	root := flag.String("root", ".", "pakon source `tree`")
	out := flag.String("out", "dist", "output `directory`")
	mtime := flag.Int64("mtime", sourceDateEpoch(), "modification time of every entry, Unix seconds (default $SOURCE_DATE_EPOCH)")
	flag.Parse()

	path, err := run(*pkg, *arch, *bin, *version, *root, *out, time.Unix(*mtime, 0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipk: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func sourceDateEpoch() int64 {
	if n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return n
	}
	return 0
}

func run(pkg, arch, bin, version, root, out string, mtime time.Time) (string, error) {
	if version == "" {
		return "", fmt.Errorf("-version is required")
	}
	var p *Package
	var err error
	switch pkg {
	case "pakon":
		if arch == "" || bin == "" {
			return "", fmt.Errorf("pakon needs -arch and -bin")
		}
		p, err = PakonPackage(root, bin, arch, version)
	case "luci-app-pakon":
		p, err = LuciPackage(root, version)
	default:
		return "", fmt.Errorf("unknown package %q (pakon or luci-app-pakon)", pkg)
	}
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", out, err)
	}
	path := filepath.Join(out, p.FileName())
	if err := p.Write(path, mtime); err != nil {
		return "", err
	}
	return path, nil
}
