package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultProgram is the rule updater pakon hands its sources to.
const DefaultProgram = "suricata-update"

// RulesFile is the merged rule file the update writes into its output
// directory, the one Suricata loads.
const RulesFile = "suricata.rules"

// StatusFile is the update status kept next to RulesFile.
const StatusFile = "status.json"

// Source is a rule source outside suricata-update's index: a name and
// the URL of a .rules file or a rules tarball.
type Source struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// UpdateOptions say what Update fetches and where it puts it.
type UpdateOptions struct {
	// Sources are names in suricata-update's index ("et/open").
	Sources []string
	// URLs are further sources by URL (PiRogue's stalkerware indicators).
	URLs []Source
	// LocalFiles are rule files of the user's, merged in as they are.
	LocalFiles []string
	// OutputDir receives RulesFile and StatusFile.
	OutputDir string
	// DataDir is suricata-update's own state (its -D): the source index,
	// enabled sources, download cache. pakon owns it and rewrites the
	// enabled sources on every run. "" is OutputDir/suricata-update.
	DataDir string
	// SuricataConfig lets suricata-update disable rules for protocols the
	// config turns off; "" leaves it to suricata-update.
	SuricataConfig string
	// Program is the updater, looked up on PATH; "" is DefaultProgram.
	Program string
	// Socket and PidFile reach the running Suricata for the reload (see
	// Reload); both "" skip it.
	Socket, PidFile string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Status is the outcome of the last update, for the alert_rules method
// and pakon rules status.
type Status struct {
	// Time is when the update ran; LastSuccess when one last succeeded.
	Time        time.Time `json:"time,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// OK is false when the rules could not be brought up to date.
	OK bool `json:"ok"`
	// Message says what happened in one line, and why not when !OK.
	Message string `json:"message"`
	// Tool is the updater found, "" when it is not installed.
	Tool    string   `json:"tool"`
	Sources []string `json:"sources"`
	// Rules counts the enabled rules in RulesFile after the update.
	Rules  int    `json:"rules"`
	Reload string `json:"reload"`
}

// LoadStatus reads the status of the last update in dir; a missing file
// is a zero Status.
func LoadStatus(dir string) (Status, error) {
	var s Status
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read rule update status: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read rule update status %s: %w", filepath.Join(dir, StatusFile), err)
	}
	return s, nil
}

func saveStatus(dir string, s Status) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := filepath.Join(dir, StatusFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save rule update status: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, StatusFile))
}

// Update brings OutputDir/RulesFile up to date and reloads Suricata. With
// suricata-update installed, it hands it the sources and local files;
// without, it merges the local files alone and says that the sources
// cannot be fetched. The returned Status is also saved in OutputDir; err
// is non-nil when the rules could not be updated as configured.
func Update(ctx context.Context, o UpdateOptions) (Status, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	prev, _ := LoadStatus(o.OutputDir)
	st := Status{Time: now().UTC(), LastSuccess: prev.LastSuccess, Sources: sourceNames(o)}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return st, fmt.Errorf("update rules: %w", err)
	}
	err := fetch(ctx, o, &st)
	if err != nil {
		st.OK, st.Message = false, err.Error()
	} else {
		st.OK, st.LastSuccess = true, st.Time
	}
	st.Rules = CountRules(filepath.Join(o.OutputDir, RulesFile))
	if err == nil && (o.Socket != "" || o.PidFile != "") {
		how, rerr := Reload(ctx, o.Socket, o.PidFile)
		switch {
		case errors.Is(rerr, ErrNotRunning):
			st.Reload = "suricata is not running; it loads the rules when it starts"
		case rerr != nil:
			st.Reload, st.OK, err = rerr.Error(), false, rerr
			st.Message += "; " + rerr.Error()
		default:
			st.Reload = how
		}
	}
	if serr := saveStatus(o.OutputDir, st); serr != nil && err == nil {
		err = serr
	}
	return st, err
}

// CountRules returns the number of enabled rules in the file at path, 0
// when it cannot be read.
func CountRules(path string) int {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return indexFile(path, st).info.Rules
}

func sourceNames(o UpdateOptions) []string {
	out := append([]string{}, o.Sources...)
	for _, u := range o.URLs {
		out = append(out, u.Name)
	}
	for _, f := range o.LocalFiles {
		out = append(out, f)
	}
	return out
}

// fetch runs suricata-update, or merges the local files without it.
func fetch(ctx context.Context, o UpdateOptions, st *Status) error {
	prog := o.Program
	if prog == "" {
		prog = DefaultProgram
	}
	tool, lerr := exec.LookPath(prog)
	if lerr != nil {
		if len(o.LocalFiles) > 0 {
			if err := mergeLocal(o); err != nil {
				return err
			}
		}
		remote := len(o.Sources) + len(o.URLs)
		switch {
		case remote > 0:
			return fmt.Errorf("%s is not installed: cannot fetch %s; %d local rule files in use", prog,
				strings.Join(sourceNames(UpdateOptions{Sources: o.Sources, URLs: o.URLs}), ", "), len(o.LocalFiles))
		case len(o.LocalFiles) == 0:
			return errors.New("no rule sources configured")
		}
		st.Message = fmt.Sprintf("%s is not installed; merged %d local rule files", prog, len(o.LocalFiles))
		return nil
	}
	st.Tool = tool
	data := o.DataDir
	if data == "" {
		data = filepath.Join(o.OutputDir, "suricata-update")
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, tool, append([]string{"-D", data}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	if len(o.Sources) > 0 {
		// A stale index still names the sources; a download error shows
		// in the main run.
		run("update-sources")
	}
	// pakon owns this data dir: the enabled sources are exactly the
	// configured ones.
	srcDir := filepath.Join(data, "update", "sources")
	if old, _ := filepath.Glob(filepath.Join(srcDir, "*.yaml")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	for _, s := range o.Sources {
		if out, err := run("enable-source", s); err != nil {
			return fmt.Errorf("enable source %s: %s", s, lastLine(out, err))
		}
	}
	for _, u := range o.URLs {
		if out, err := run("add-source", u.Name, u.URL); err != nil {
			return fmt.Errorf("add source %s: %s", u.Name, lastLine(out, err))
		}
	}
	args := []string{"--no-test", "--no-reload", "-o", o.OutputDir}
	if o.SuricataConfig != "" {
		args = append(args, "--suricata-conf", o.SuricataConfig)
	}
	for _, f := range o.LocalFiles {
		args = append(args, "--local", f)
	}
	out, err := run(args...)
	if err != nil {
		if networkError(out) {
			return fmt.Errorf("no network: cannot download the rules (%s); keeping the previous ones", lastLine(out, err))
		}
		return fmt.Errorf("%s failed: %s", prog, lastLine(out, err))
	}
	st.Message = fmt.Sprintf("updated from %s", strings.Join(sourceNames(o), ", "))
	return nil
}

// mergeLocal writes the local rule files into RulesFile, replacing it in
// one rename so Suricata never reads half a file.
func mergeLocal(o UpdateOptions) error {
	var buf bytes.Buffer
	for _, f := range o.LocalFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read local rules: %w", err)
		}
		fmt.Fprintf(&buf, "# from %s\n", f)
		buf.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	dst := filepath.Join(o.OutputDir, RulesFile)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// networkError recognises suricata-update's messages for a download that
// could not reach the server.
func networkError(out string) bool {
	for _, s := range []string{"Failed to fetch", "Name or service not known", "Temporary failure in name resolution",
		"Network is unreachable", "Connection refused", "timed out", "URLError"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return err.Error()
}
