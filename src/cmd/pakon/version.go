package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/pakon/pakon/src/store"
	"github.com/pakon/pakon/src/version"
)

// VersionCommand prints the version.
type VersionCommand struct{ stdout io.Writer }

// Run prints version, Go version and schema version.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	_, err := fmt.Fprintf(c.stdout, "pakon %s (%s, %s/%s, schema %d)\n", version.Version, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, store.LatestSchemaVersion())
	return err
}
