package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// Sync runs fn in Run's goroutine at a quiet point: everything the
// correlator handed out so far has been written to the store, and nothing
// else touches the correlator until fn returns. The daemon uses it to take
// a snapshot that agrees with the database and to pin the commit of the
// flows completed so far (store.PendingCommit); fn should be quick, since
// lines queue up while it runs. It waits for ctx or until Run picks the
// call up.
func (p *Pipeline) Sync(ctx context.Context, fn func(*flow.Correlator)) error {
	done := make(chan struct{})
	select {
	case p.syncs <- func() { fn(p.corr); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// settle waits until the writer has handed back n batches, that is until
// every batch sent before is written, and gives them back.
func settle(free chan *store.Batch, n int) {
	held := make([]*store.Batch, 0, n)
	for range n {
		held = append(held, <-free)
	}
	for _, b := range held {
		free <- b
	}
}

// snapshotVersion guards against reading a snapshot of another layout.
const snapshotVersion = 1

type snapshotFile struct {
	Version int
	State   flow.State
}

// SaveSnapshot writes s to path (msgpack) atomically: a crash leaves the
// previous snapshot or the new one, never a torn file. It encodes straight
// into the file through a small buffer: a snapshot of a busy network is
// tens of MiB, which need not be held twice.
func SaveSnapshot(path string, s flow.State) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	err = msgpack.NewEncoder(w).Encode(snapshotFile{Version: snapshotVersion, State: s})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	return nil
}

// LoadSnapshot reads a snapshot written by SaveSnapshot. A missing file
// gives an empty state and no error.
func LoadSnapshot(path string) (flow.State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return flow.State{}, nil
	}
	if err != nil {
		return flow.State{}, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	var f snapshotFile
	if err := msgpack.Unmarshal(b, &f); err != nil {
		return flow.State{}, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	if f.Version != snapshotVersion {
		return flow.State{}, fmt.Errorf("load snapshot %s: version %d, want %d", path, f.Version, snapshotVersion)
	}
	return f.State, nil
}
