package main

import (
	"log/slog"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/neigh"
	"github.com/pakon/pakon/src/store"
)

// newPipeline builds the ingest pipeline from the configuration.
func newPipeline(db *store.DB, cfg *config.Config, log *slog.Logger, live bool) *ingest.Pipeline {
	fo := flow.Options{
		LocalNetworks:      cfg.LocalNetworks,
		SkipDNS:            cfg.SkipDNS,
		SkipUnidirectional: cfg.SkipUnidirectional,
	}
	if live {
		// Only a live capture runs on the LAN whose neighbours we can see.
		nt := neigh.New(neighbourMaxAge)
		fo.Neighbours = nt.Lookup
	}
	return ingest.New(db, ingest.Options{QueueSize: cfg.QueueSize, Flow: fo, Logger: log})
}
