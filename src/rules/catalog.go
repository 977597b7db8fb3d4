package rules

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultMinCheck is how often a Catalog looks at its files for changes
// at most.
const DefaultMinCheck = 10 * time.Second

// CatalogOptions name a Catalog's files.
type CatalogOptions struct {
	// RuleFiles are rule files or glob patterns ("/etc/suricata/rules/*.rules"),
	// earlier ones winning when a rule is in several. Missing files are
	// reported in Files, not errors.
	RuleFiles []string
	// ClassificationFile and ReferenceFile are Suricata's
	// classification.config and reference.config; "" for none.
	ClassificationFile string
	ReferenceFile      string
	// MinCheck is how often the files are checked for changes at most;
	// 0 is DefaultMinCheck. Lower sees edits sooner at the cost of a stat
	// per file per lookup.
	MinCheck time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// FileInfo describes one rule file of a Catalog.
type FileInfo struct {
	Path     string    `json:"path"`
	Rules    int       `json:"rules"`    // enabled rules
	Disabled int       `json:"disabled"` // rules commented out
	Modified time.Time `json:"modified"`
	Size     int64     `json:"size"`
	Error    string    `json:"error,omitempty"`
}

// Catalog finds rules by (gid, sid) in a set of files. It indexes each
// file once per change (by size and modification time) and reads a rule's
// line only when asked. It is safe for concurrent use.
type Catalog struct {
	opts CatalogOptions

	mu      sync.Mutex
	checked time.Time
	files   map[string]*indexedFile
	order   []string
	classes cachedConfig[map[string]Class]
	refs    cachedConfig[map[string]string]
}

type loc struct {
	offset  int64
	length  int32
	line    int32
	enabled bool
}

type indexedFile struct {
	info  FileInfo
	index map[uint64]loc
}

type cachedConfig[T any] struct {
	mod  time.Time
	size int64
	val  T
}

// NewCatalog returns a catalog of the files opts names; nothing is read
// until the first lookup.
func NewCatalog(opts CatalogOptions) *Catalog {
	if opts.MinCheck <= 0 {
		opts.MinCheck = DefaultMinCheck
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Catalog{opts: opts, files: map[string]*indexedFile{}}
}

func key(gid, sid uint32) uint64 { return uint64(gid)<<32 | uint64(sid) }

// refresh re-indexes changed files; c.mu is held.
func (c *Catalog) refresh() {
	now := c.opts.Now()
	if !c.checked.IsZero() && now.Sub(c.checked) < c.opts.MinCheck {
		return
	}
	c.checked = now
	var paths []string
	seen := map[string]bool{}
	for _, pat := range c.opts.RuleFiles {
		matches := []string{pat}
		if strings.ContainsAny(pat, "*?[") {
			matches, _ = filepath.Glob(pat)
			sort.Strings(matches)
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				paths = append(paths, m)
			}
		}
	}
	files := make(map[string]*indexedFile, len(paths))
	for _, p := range paths {
		old := c.files[p]
		st, err := os.Stat(p)
		if err != nil {
			files[p] = &indexedFile{info: FileInfo{Path: p, Error: err.Error()}}
			continue
		}
		if old != nil && old.info.Error == "" && old.info.Size == st.Size() && old.info.Modified.Equal(st.ModTime()) {
			files[p] = old
			continue
		}
		files[p] = indexFile(p, st)
	}
	c.files, c.order = files, paths
	loadConfig(c.opts.ClassificationFile, &c.classes, ParseClassifications)
	loadConfig(c.opts.ReferenceFile, &c.refs, ParseReferences)
}

func loadConfig[T any](path string, dst *cachedConfig[T], parse func(io.Reader) (T, error)) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil || (st.ModTime().Equal(dst.mod) && st.Size() == dst.size) {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if v, err := parse(f); err == nil {
		dst.val, dst.mod, dst.size = v, st.ModTime(), st.Size()
	}
}

// indexFile records where each rule of the file at p starts.
func indexFile(p string, st os.FileInfo) *indexedFile {
	ix := &indexedFile{info: FileInfo{Path: p, Modified: st.ModTime(), Size: st.Size()}, index: map[uint64]loc{}}
	f, err := os.Open(p)
	if err != nil {
		ix.info.Error = err.Error()
		return ix
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	line := 0
	for {
		b, err := r.ReadString('\n')
		if len(b) > 0 {
			line++
			if strings.Contains(b, "sid") {
				if rule, perr := Parse(b); perr == nil {
					k := key(rule.GID, rule.SID)
					if prev, dup := ix.index[k]; !dup || (!prev.enabled && rule.Enabled) {
						ix.index[k] = loc{offset: off, length: int32(len(b)), line: int32(line), enabled: rule.Enabled}
					}
					if rule.Enabled {
						ix.info.Rules++
					} else {
						ix.info.Disabled++
					}
				}
			}
			off += int64(len(b))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ix.info.Error = fmt.Sprintf("read %s: %v", p, err)
			break
		}
	}
	return ix
}

// Lookup returns the rule (gid, sid): the enabled one when a file has it
// both commented out and enabled, from the first file that has it.
func (c *Catalog) Lookup(gid, sid uint32) (Rule, bool) {
	if gid == 0 {
		gid = 1
	}
	r, ok, stale := c.lookup(gid, sid)
	if stale {
		// The file changed since it was indexed: index it now.
		c.mu.Lock()
		c.checked = time.Time{}
		c.mu.Unlock()
		r, ok, _ = c.lookup(gid, sid)
	}
	return r, ok
}

func (c *Catalog) lookup(gid, sid uint32) (r Rule, ok, stale bool) {
	c.mu.Lock()
	c.refresh()
	var path string
	var at loc
	found := false
	for _, p := range c.order {
		f := c.files[p]
		if l, ok := f.index[key(gid, sid)]; ok && (!found || (!at.enabled && l.enabled)) {
			path, at, found = p, l, true
			if l.enabled {
				break
			}
		}
	}
	refs := c.refs.val
	c.mu.Unlock()
	if !found {
		return Rule{}, false, false
	}
	f, err := os.Open(path)
	if err != nil {
		return Rule{}, false, true
	}
	defer f.Close()
	buf := make([]byte, at.length)
	if _, err := f.ReadAt(buf, at.offset); err != nil {
		return Rule{}, false, true
	}
	r, err = Parse(string(buf))
	if err != nil || r.SID != sid || r.GID != gid {
		return Rule{}, false, true
	}
	r.File, r.Line = path, int(at.line)
	for i := range r.References {
		r.References[i].URL = ReferenceURL(refs, r.References[i].Type, r.References[i].Value)
	}
	return r, true, false
}

// Class returns the classification named name.
func (c *Catalog) Class(name string) (Class, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	cl, ok := c.classes.val[name]
	return cl, ok
}

// ClassByDescription returns the classification whose description is
// desc: EVE alerts carry the description as their category.
func (c *Catalog) ClassByDescription(desc string) (Class, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	for _, cl := range c.classes.val {
		if cl.Description == desc {
			return cl, true
		}
	}
	return Class{}, false
}

// Files describes the rule files, in lookup order.
func (c *Catalog) Files() []FileInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	out := make([]FileInfo, 0, len(c.order))
	for _, p := range c.order {
		out = append(out, c.files[p].info)
	}
	return out
}
