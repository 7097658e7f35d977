// Package localserver starts a complete Coffer S3 endpoint inside the
// calling process, on 127.0.0.1, over temporary drive folders: the engine,
// the built-in KMS keyring (so every SSE mode works) and the S3 facade. It
// exists so that the load generator's smoke tests and local measurements
// drive the real server, the same code `coffer serve` runs.
//
// # Guarantees
//
// Start listens only on 127.0.0.1. Close shuts the facade down, closes the
// engine and the keyring, and (when Start created them) removes the drive
// folders. SSE-C over plain HTTP is accepted from loopback only.
//
// # Concurrency
//
// A Server is safe for concurrent use by any number of S3 clients; Close
// must be called once, after the clients are done.
package localserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/kmsclient"
	"github.com/cofferdb/coffer/s3facade"
)

// Credentials of the one user a local server accepts.
const (
	AccessKey = "AKIDCOFFERLOAD"
	SecretKey = "cofferLoadSecretKeyNotASecretAtAll0000000"
	Region    = "us-east-1"
)

// Options configures Start.
type Options struct {
	// Dir is the parent of the drive folders; empty means a new temporary
	// directory that Close removes.
	Dir string
	// Drives is the number of drive folders. Zero: 6.
	Drives int
	// DataShards and ParityShards set k and m; zero takes the engine's
	// defaults for the drive count (6 drives: 3+3); Start's callers that
	// measure ask for 4+2 explicitly.
	DataShards, ParityShards int
	// NoSync skips fsync (the engine's SyncNone). The default is durable.
	NoSync bool
}

// Server is a running local endpoint.
type Server struct {
	// URL is "http://127.0.0.1:port".
	URL string
	// Drives are the drive folders.
	Drives []string

	e       *engine.Engine
	s       *s3facade.Server
	kr      *kmsclient.Keyring
	done    chan error
	removeD string
}

// Start opens an engine over fresh drive folders and serves S3 on an
// ephemeral 127.0.0.1 port.
func Start(opts Options) (_ *Server, err error) {
	if opts.Drives == 0 {
		opts.Drives = 6
	}
	if opts.Drives < 1 || opts.Drives > 64 {
		return nil, fmt.Errorf("localserver: drives %d outside 1..64", opts.Drives)
	}
	srv := &Server{done: make(chan error, 1)}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "coffer-load-"); err != nil {
			return nil, fmt.Errorf("localserver: %w", err)
		}
		srv.removeD = dir
	}
	defer func() {
		if err != nil {
			srv.closeParts()
		}
	}()
	drives := make([]string, opts.Drives)
	for i := range drives {
		drives[i] = filepath.Join(dir, fmt.Sprintf("drive%d", i))
		if err = os.MkdirAll(drives[i], 0o700); err != nil {
			return nil, fmt.Errorf("localserver: %w", err)
		}
	}
	var rk [32]byte
	if _, err = rand.Read(rk[:]); err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	root, err := kmsclient.NewRootKey("coffer-load", rk[:])
	clear(rk[:])
	if err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	if srv.kr, err = kmsclient.OpenKeyring(kmsclient.KeyringOptions{Dir: filepath.Join(dir, "keyring"), RootKey: root, Logger: quiet}); err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	eo := &engine.Options{
		Drives: drives, DataShards: opts.DataShards, ParityShards: opts.ParityShards,
		KeyManager: kmsclient.NewEngineAdapter(srv.kr), Logger: quiet,
	}
	if opts.NoSync {
		eo.Sync = engine.SyncNone
	}
	if srv.e, err = engine.Open(drives[0], eo); err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	srv.s, err = s3facade.New(srv.e, s3facade.Config{
		Region:                    Region,
		Users:                     []s3facade.User{{AccessKey: AccessKey, SecretKey: SecretKey}},
		AllowInsecureSSECLoopback: true,
	})
	if err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	srv.URL = "http://" + ln.Addr().String()
	srv.Drives = drives
	go func() { srv.done <- srv.s.Serve(ln) }()
	return srv, nil
}

// Close stops serving, closes the engine and keyring and removes the
// temporary folders Start created.
func (srv *Server) Close() error {
	var errs []error
	if srv.s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, srv.s.Shutdown(ctx))
		cancel()
		errs = append(errs, <-srv.done)
		srv.s = nil
	}
	errs = append(errs, srv.closeParts())
	return errors.Join(errs...)
}

func (srv *Server) closeParts() error {
	var errs []error
	if srv.e != nil {
		errs = append(errs, srv.e.Close())
		srv.e = nil
	}
	if srv.kr != nil {
		errs = append(errs, srv.kr.Close())
		srv.kr = nil
	}
	if srv.removeD != "" {
		errs = append(errs, os.RemoveAll(srv.removeD))
		srv.removeD = ""
	}
	return errors.Join(errs...)
}
