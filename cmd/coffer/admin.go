package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// offlineConfig is what the offline maintenance commands read: the drives
// and key manager of a stopped store.
type offlineConfig struct {
	drives []string
	parity int
	kms    kmsConfig
}

// parseOffline parses [flags] [DRIVE ...] for command name, adding the
// command's own flags through extra.
func parseOffline(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*offlineConfig, error) {
	fs := flag.NewFlagSet("coffer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &offlineConfig{}
	var drives listFlag
	fs.Var(&drives, "drive", "a drive `directory` (repeatable; also positional arguments)")
	fs.IntVar(&c.parity, "parity", 0, "parity shards (0: the layout the store recorded; a store from before layouts were recorded\n"+
		"needs what serve was given, -1 for none)")
	c.kms.register(fs)
	if extra != nil {
		extra(fs)
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	c.drives = append(drives, positional...)
	if len(c.drives) == 0 {
		c.drives = []string{"./coffer-data"}
	}
	for i, d := range c.drives {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		c.drives[i] = abs
	}
	return c, nil
}

// openOffline opens a stopped store for maintenance. The index lock keeps
// a running server and a maintenance command apart.
func openOffline(c *offlineConfig, stderr io.Writer) (*engine.Engine, func(), error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := prepareDrives(c.drives, false, needFirstDrive(&c.kms, false)); err != nil {
		return nil, nil, err
	}
	km, closeKM, err := openKeyManager(&c.kms, c.drives[0], log.With("component", "kms"))
	if err != nil {
		return nil, nil, err
	}
	eo := &engine.Options{Drives: c.drives, ParityShards: c.parity, KeyManager: km, Logger: log.With("component", "engine"),
		ScrubInterval: -1, UploadExpiry: -1}
	if c.parity < 0 {
		eo.ParityShards = engine.NoParity
	}
	e, err := engine.Open(c.drives[0], eo)
	if err != nil {
		closeKM()
		if errors.Is(err, engine.ErrInvalidOptions) {
			return nil, nil, fmt.Errorf("opening the store: %w", layoutHint(err, c.parity))
		}
		return nil, nil, fmt.Errorf("opening the store (is a server running on it?): %w", err)
	}
	return e, func() { e.Close(); closeKM() }, nil
}

// healCommand is `coffer heal [--bucket B] [--prefix P] [DRIVE ...]`.
func healCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var bucket, prefix string
	c, err := parseOffline("heal", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&bucket, "bucket", "", "heal only this `bucket`")
		fs.StringVar(&prefix, "prefix", "", "heal only keys with this `prefix` (with --bucket)")
	})
	if err != nil {
		return err
	}
	if prefix != "" && bucket == "" {
		return errors.New("--prefix needs --bucket")
	}
	e, done, err := openOffline(c, stderr)
	if err != nil {
		return err
	}
	defer done()
	rep, err := e.Heal(ctx, engine.HealOptions{Bucket: bucket, Prefix: prefix, Progress: func(r engine.HealReport) {
		if r.Objects%1000 == 0 {
			fmt.Fprintf(stderr, "healed %d objects so far (%d shards rewritten)\n", r.Objects, r.ShardsHealed)
		}
	}})
	fmt.Fprintf(stdout, "objects %d\nstreams %d\ndamaged %d\nshards healed %d\nunrecoverable %d\n",
		rep.Objects, rep.Streams, rep.Damaged, rep.ShardsHealed, rep.Unrecoverable)
	if err == nil && rep.Unrecoverable > 0 {
		err = fmt.Errorf("%d streams have more damage than parity can repair", rep.Unrecoverable)
	}
	return err
}

// fsckCommand is `coffer fsck [--repair] [DRIVE ...]`.
func fsckCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var repair bool
	c, err := parseOffline("fsck", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&repair, "repair", false, "heal damaged shards and remove dangling ones")
	})
	if err != nil {
		return err
	}
	e, done, err := openOffline(c, stderr)
	if err != nil {
		return err
	}
	defer done()
	rep, err := e.Check(ctx, repair)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "objects %d\nstreams %d\ndamaged %d\nshards healed %d\ndangling %d\nbad records %d\nunrecoverable %d\n",
		rep.Objects, rep.Streams, rep.Damaged, rep.ShardsHealed, rep.Dangling, rep.BadRecords, len(rep.Unrecoverable))
	for _, o := range rep.Unrecoverable {
		fmt.Fprintf(stdout, "  unrecoverable: %s\n", o)
	}
	if rep.Quarantined > 0 {
		fmt.Fprintf(stdout, "quarantined %d (no longer listed or readable; their records are kept in the index)\n", rep.Quarantined)
	}
	switch {
	case rep.OK():
		fmt.Fprintln(stdout, "ok")
		return nil
	case repair && len(rep.Unrecoverable) == 0 && rep.BadRecords == 0:
		fmt.Fprintln(stdout, "repaired")
		return nil
	}
	return errors.New("the store is not consistent")
}

// repairCommand is `coffer repair --rebuild-index [DRIVE ...]`.
func repairCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var rebuild bool
	c, err := parseOffline("repair", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&rebuild, "rebuild-index", false, "restore index records from the shard files' self-description")
	})
	if err != nil {
		return err
	}
	if !rebuild {
		return errors.New("nothing to do: give --rebuild-index")
	}
	e, done, err := openOffline(c, stderr)
	if err != nil {
		return err
	}
	defer done()
	n, err := e.RebuildIndex(ctx)
	fmt.Fprintf(stdout, "records restored %d\n", n)
	return err
}

// adminCommand is `coffer admin status [DRIVE ...]`: the drives and
// repair counters of a stopped store (a running server reports the same
// at /metrics).
func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return errors.New("usage: coffer admin status [DRIVE ...]")
	}
	c, err := parseOffline("admin status", args[1:], stderr, nil)
	if err != nil {
		return err
	}
	e, done, err := openOffline(c, stderr)
	if err != nil {
		return err
	}
	defer done()
	s := e.Stats()
	for i, d := range s.Drives {
		line := fmt.Sprintf("drive %d %s %s", i, d.Path, d.State)
		if d.Err != nil {
			line += " (" + d.Err.Error() + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	l := e.Layout()
	fmt.Fprintf(stdout, "layout %d+%d block %d index replicas %d (%d in use)\n", l.DataShards, l.ParityShards, l.BlockSize, l.IndexReplicas, s.IndexReplicasHealthy)
	if err := e.Ready(); err != nil {
		fmt.Fprintf(stdout, "not ready: %v\n", err)
	}
	last := "never"
	if !s.LastScrub.IsZero() {
		last = s.LastScrub.Format("2006-01-02T15:04:05Z")
	}
	fmt.Fprintf(stdout, "last scrub %s\n", last)
	buckets, err := e.ListBuckets(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(buckets))
	for i, b := range buckets {
		names[i] = b.Name
	}
	fmt.Fprintf(stdout, "buckets %d %s\n", len(buckets), strings.Join(names, " "))
	return nil
}
