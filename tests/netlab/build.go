package netlab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// RepoRoot is the repository's top directory, found from this file's path.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SuricataConfig is the path of the configuration pakon ships.
func SuricataConfig() string {
	return filepath.Join(RepoRoot(), "files", "etc", "pakon", "suricata.yaml")
}

var trafficgen struct {
	once sync.Once
	path string
	err  error
}

// Trafficgen returns the path of a trafficgen binary built from this
// checkout. It builds at most once per test binary, into a temporary
// directory named after a hash of the sources, so test binaries that run
// the same sources share one build and no stale binary is ever used.
func Trafficgen() (string, error) {
	trafficgen.once.Do(func() {
		trafficgen.path, trafficgen.err = buildTrafficgen()
	})
	return trafficgen.path, trafficgen.err
}

func buildTrafficgen() (string, error) {
	src := filepath.Join(RepoRoot(), "tests", "trafficgen")
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("find trafficgen sources in %s: %v", src, err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hash trafficgen: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	dir := filepath.Join(os.TempDir(), "pakon-netlab-trafficgen-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "trafficgen")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build trafficgen: %w", err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.Command(goTool, "build", "-o", tmp, "./tests/trafficgen")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build trafficgen: %w\n%s", err, out)
	}
	// Rename is atomic: a concurrent test binary sees either nothing or a
	// complete file.
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("build trafficgen: %w", err)
	}
	return bin, nil
}
