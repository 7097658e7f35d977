package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/s3facade"
)

const usage = `Usage:
  coffer serve [flags] [DRIVE ...]   run the S3 server (default drive ./coffer-data)
  coffer kms COMMAND [flags]         manage the built-in keyring ("coffer kms help")
  coffer heal [--bucket B [--prefix P]] [DRIVE ...]
                                     verify every shard and rewrite damaged ones (server stopped)
  coffer fsck [--repair] [DRIVE ...] cross-check index and drives; --repair heals and cleans
  coffer repair --rebuild-index [DRIVE ...]
                                     restore index records from the shard files
  coffer admin status [DRIVE ...]    drive states, layout and repair counters
  coffer version                     print the version

Run "coffer serve -h" for the serve flags.`

// run is the whole program: it parses args, serves until ctx ends, and
// returns the error to report. It writes only to stdout and stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, nil)
	case "kms":
		return kmsCommand(ctx, args[1:], stdout, stderr)
	case "heal":
		return healCommand(ctx, args[1:], stdout, stderr)
	case "fsck":
		return fsckCommand(ctx, args[1:], stdout, stderr)
	case "repair":
		return repairCommand(ctx, args[1:], stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "coffer", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serveConfig is everything serve reads from flags and the environment.
type serveConfig struct {
	address   string
	drives    []string
	parity    int
	tlsCert   string
	tlsKey    string
	region    string
	domains   []string
	users     string
	logLevel  string
	logJSON   bool
	metrics   bool
	noSync    bool
	shutdown  time.Duration
	readyFile string
	// driveTimeout bounds one operation on one drive (engine.Options).
	driveTimeout time.Duration
	kms          kmsConfig
	// insecureSSEC accepts SSE-C over plain HTTP from loopback clients.
	insecureSSEC bool
}

func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := flag.NewFlagSet("coffer serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &serveConfig{}
	var drives, domains listFlag
	fs.StringVar(&c.address, "address", ":9000", "`host:port` to listen on")
	fs.Var(&drives, "drive", "a drive `directory` (repeatable; also positional arguments)")
	fs.IntVar(&c.parity, "parity", 0, "parity shards of a new store (0: chosen by drive count; -1: none). An existing store keeps the\n"+
		"layout it recorded at creation: 0 uses it, another value must match it")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.StringVar(&c.region, "region", "us-east-1", "the `region` this endpoint serves")
	fs.Var(&domains, "domain", "base `domain` for virtual-host-style requests (repeatable)")
	fs.StringVar(&c.users, "users", "", "JSON `file` of more users besides root: an array of {\"access_key\", \"secret_key\", \"role\", \"grants\",\n"+
		"\"id\", \"display_name\"}. Role \"root\" (or \"admin\") uses every bucket; role \"user\" creates buckets, owns\n"+
		"them, and uses the buckets listed in \"grants\" too. Without a role (the older format), \"buckets\"\n"+
		"lists the only buckets the user may create and use. \"id\" (default: a hash of the access key)\n"+
		"is the owner id recorded on the user's buckets: keep it when rotating a key")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.BoolVar(&c.logJSON, "log-json", false, "log JSON instead of text")
	fs.BoolVar(&c.metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	fs.BoolVar(&c.noSync, "unsafe-no-sync", false, "skip fsync (loses acknowledged writes on power loss; tests only)")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take at shutdown")
	fs.DurationVar(&c.driveTimeout, "drive-timeout", 30*time.Second, "a drive operation that takes longer makes reads go on without the drive and takes it offline until a probe\n"+
		"succeeds (negative: no deadline)")
	fs.StringVar(&c.readyFile, "ready-file", "", "write the listening address to this `file` once serving (for scripts)")
	c.kms.register(fs)
	fs.BoolVar(&c.insecureSSEC, "insecure-ssec-loopback", false, "accept SSE-C keys over plain HTTP from loopback clients (tests only)")
	seen := map[string]bool{}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
			if seen[name] && name != "drive" && name != "domain" {
				return nil, fmt.Errorf("flag --%s given twice", name)
			}
			seen[name] = true
		}
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	c.drives = append(drives, positional...)
	if len(c.drives) == 0 {
		c.drives = []string{"./coffer-data"}
	}
	c.domains = domains
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return c, nil
}

// parseInterleaved parses args with fs, allowing flags and positional
// arguments (drives) in any order, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// serve runs the server until ctx ends. ready, if not nil, receives the
// listening address once requests are served (for tests).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if c.logJSON {
		log = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, hopts))
	}

	for i, d := range c.drives {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		c.drives[i] = abs
	}
	if err := prepareDrives(c.drives, true, needFirstDrive(&c.kms, !envCredentials())); err != nil {
		return err
	}
	root, generated, err := rootCredentials(c.drives[0])
	if err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(stdout, "Generated root credentials (shown once; stored in %s):\n  COFFER_ROOT_USER=%s\n  COFFER_ROOT_PASSWORD=%s\n",
			credentialsPath(c.drives[0]), root.AccessKey, root.SecretKey)
	}
	root.Role = s3facade.RoleRoot
	users := []s3facade.User{root}
	if c.users != "" {
		more, err := loadUsers(c.users)
		if err != nil {
			return err
		}
		users = append(users, more...)
	}

	km, closeKM, err := openKeyManager(&c.kms, c.drives[0], log.With("component", "kms"))
	if err != nil {
		return err
	}
	defer func() {
		if err := closeKM(); err != nil {
			log.Error("closing the key manager", "err", err)
		}
	}()
	eo := &engine.Options{Drives: c.drives, ParityShards: c.parity, Logger: log.With("component", "engine"), KeyManager: km, DriveTimeout: c.driveTimeout}
	if c.parity < 0 {
		eo.ParityShards = engine.NoParity
	}
	if c.noSync {
		eo.Sync = engine.SyncNone
	}
	e, err := engine.Open(c.drives[0], eo)
	if err != nil {
		return layoutHint(err, c.parity)
	}
	defer func() {
		if err := e.Close(); err != nil {
			log.Error("closing the engine", "err", err)
		}
	}()

	cfg := s3facade.Config{Region: c.region, Users: users, Domains: c.domains, Logger: log.With("component", "s3"), Metrics: c.metrics,
		AllowInsecureSSECLoopback: c.insecureSSEC}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("loading TLS key pair: %w", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv, err := s3facade.New(e, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.address)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	log.Info("serving S3", "address", addr, "tls", cfg.TLSConfig != nil, "drives", len(c.drives),
		"region", c.region, "root_user", root.AccessKey, "users", len(users), "kms", c.kms.backend)
	if c.readyFile != "" {
		if err := os.WriteFile(c.readyFile, []byte(addr+"\n"), 0o600); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests", "timeout", c.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// prepareDrives checks the drive folders before the key manager and the
// engine use them. A new store (no drive carries a drive identity) gets its
// folders created when create is set. Of an existing store nothing is
// created: a missing folder is a drive that is not mounted, which the
// engine reports offline while it serves from the others. The first drive
// is the exception when needFirst is set: it holds the root credentials
// file and the built-in keyring, which must not be recreated empty
// elsewhere.
func prepareDrives(drives []string, create, needFirst bool) error {
	if engine.StoreExists(nil, drives) {
		if _, err := os.Stat(drives[0]); needFirst && errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the first drive %s does not exist while the store's other drives do: it holds the root "+
				"credentials and the built-in keyring; mount it (it is not created, so that nothing lands on the wrong file system)", drives[0])
		}
		return nil
	}
	if !create {
		return nil
	}
	for _, d := range drives {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("drive %s: %w", d, err)
		}
	}
	return nil
}

// needFirstDrive reports whether the first drive's files are used: the
// built-in keyring lives there, and so does the root credentials file when
// credentials says it is read.
func needFirstDrive(k *kmsConfig, credentials bool) bool {
	uri, err := k.uri()
	return credentials || (err == nil && (strings.HasPrefix(uri, "local:") || strings.HasPrefix(uri, "builtin:")))
}

// envCredentials reports whether the root credentials come from the
// environment rather than from the first drive.
func envCredentials() bool {
	return os.Getenv("COFFER_ROOT_USER") != "" && os.Getenv("COFFER_ROOT_PASSWORD") != ""
}

// layoutHint adds to an engine.Open error caused by a --parity that
// contradicts the store's recorded layout how to proceed.
func layoutHint(err error, parity int) error {
	if parity != 0 && errors.Is(err, engine.ErrInvalidOptions) {
		return fmt.Errorf("%w (leave out --parity to use the store's layout)", err)
	}
	return err
}

func credentialsPath(drive string) string {
	return filepath.Join(drive, "config", "root-credentials.json")
}

type storedCredentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// rootCredentials returns the root user: from COFFER_ROOT_USER and
// COFFER_ROOT_PASSWORD, else from the credentials file in the first
// drive, else newly generated and stored there (mode 0600).
func rootCredentials(drive string) (s3facade.User, bool, error) {
	u, p := os.Getenv("COFFER_ROOT_USER"), os.Getenv("COFFER_ROOT_PASSWORD")
	switch {
	case u != "" && p != "":
		return s3facade.User{AccessKey: u, SecretKey: p}, false, nil
	case u != "" || p != "":
		return s3facade.User{}, false, errors.New("set both COFFER_ROOT_USER and COFFER_ROOT_PASSWORD, or neither")
	}
	path := credentialsPath(drive)
	b, err := os.ReadFile(path)
	if err == nil {
		var sc storedCredentials
		if err := json.Unmarshal(b, &sc); err != nil || sc.AccessKey == "" || sc.SecretKey == "" {
			return s3facade.User{}, false, fmt.Errorf("%s: not a valid credentials file", path)
		}
		return s3facade.User{AccessKey: sc.AccessKey, SecretKey: sc.SecretKey}, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return s3facade.User{}, false, err
	}
	var ak [15]byte
	var sk [30]byte
	if _, err := rand.Read(ak[:]); err != nil {
		return s3facade.User{}, false, err
	}
	if _, err := rand.Read(sk[:]); err != nil {
		return s3facade.User{}, false, err
	}
	sc := storedCredentials{
		AccessKey: "CF" + strings.ToUpper(strings.NewReplacer("-", "A", "_", "B").Replace(base64.RawURLEncoding.EncodeToString(ak[:]))),
		SecretKey: base64.RawURLEncoding.EncodeToString(sk[:]),
	}
	clear(sk[:])
	b, _ = json.Marshal(sc)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return s3facade.User{}, false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return s3facade.User{}, false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return s3facade.User{}, false, err
	}
	return s3facade.User{AccessKey: sc.AccessKey, SecretKey: sc.SecretKey}, true, nil
}

// fileUser is one entry of the --users file, a JSON array:
//
//	[
//	  {"access_key": "ops", "secret_key": "…", "role": "root"},
//	  {"access_key": "alice", "secret_key": "…", "role": "user", "grants": ["shared"]},
//	  {"access_key": "carol", "secret_key": "…", "buckets": ["logs"]}
//	]
//
// role "root" (synonym "admin") uses, deletes and reconfigures every
// bucket. role "user" creates buckets of any free name and owns them:
// it uses, deletes and reconfigures its own buckets, and uses (objects,
// listings) the buckets in grants. Without a role (the format before
// roles existed) buckets lists the only buckets the user may create and
// use; it owns those it creates. grants and buckets are one list under two
// names: give one. id is the owner id recorded on the buckets the user
// creates (default: a hash of the access key; keep it when rotating a
// key: users with one id are one owner); display_name is shown as the
// owner's name in listings (default: the access key). The root user of
// COFFER_ROOT_USER or the credentials file is always there, with role
// root; buckets created before owners were recorded belong to root.
type fileUser struct {
	AccessKey   string   `json:"access_key"`
	SecretKey   string   `json:"secret_key"`
	Role        string   `json:"role"`
	Grants      []string `json:"grants"`
	Buckets     []string `json:"buckets"`
	ID          string   `json:"id"`
	DisplayName string   `json:"display_name"`
}

// fileRole maps a role name of the --users file.
func fileRole(name string) (s3facade.Role, bool) {
	switch name {
	case "":
		return s3facade.RoleDefault, true
	case "root", "admin":
		return s3facade.RoleRoot, true
	case "user":
		return s3facade.RoleUser, true
	}
	return "", false
}

func loadUsers(path string) ([]s3facade.User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fu []fileUser
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fu); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]s3facade.User, 0, len(fu))
	var errs []error
	for i, u := range fu {
		role, ok := fileRole(u.Role)
		grants := u.Grants
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("user %d (%s): role %q is not \"root\", \"admin\" or \"user\"", i, u.AccessKey, u.Role))
		case u.Grants != nil && u.Buckets != nil:
			errs = append(errs, fmt.Errorf("user %d (%s): \"grants\" and \"buckets\" are the same list; give one", i, u.AccessKey))
		case u.Grants == nil:
			grants = u.Buckets
		}
		if ok && role == s3facade.RoleDefault && len(grants) == 0 {
			errs = append(errs, fmt.Errorf("user %d (%s) has no role and lists no buckets; give it \"role\": \"user\" (its own buckets) or \"root\" (every bucket)", i, u.AccessKey))
		}
		out = append(out, s3facade.User{AccessKey: u.AccessKey, SecretKey: u.SecretKey, Role: role, Buckets: grants, ID: u.ID, DisplayName: u.DisplayName})
	}
	if len(errs) == 0 && len(out) > 0 {
		// The facade checks the rest; checking here names the file's
		// own positions.
		errs = append(errs, s3facade.Config{Users: out}.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
