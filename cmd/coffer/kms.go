package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/kmsclient"
)

// kmsConfig is the key-manager part of serve's flags.
type kmsConfig struct {
	backend    string        // builtin, aws, kes, none, or a kmsclient backend URI
	endpoint   string        // aws, kes
	region     string        // aws: the KMS region; builtin: the region in key ARNs
	kesCA      string        // kes: CA file for the server certificate
	kesKey     string        // kes: default key name
	cacheTTL   time.Duration // remote backends: data-key cache lifetime
	staleGrace time.Duration // remote backends: serve cached keys this long into an outage
}

func (k *kmsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&k.backend, "kms", "builtin", "key `manager`: builtin (keyring in the first drive), aws (AWS KMS protocol), kes, none, "+
		"or a URI: local:[?region=R&root_key_file=F], aws-kms://REGION[?endpoint=URL], "+
		"kes://HOST:PORT[?ca=FILE&key=NAME&api_key_file=F], pkcs11:?module=LIB&token=LABEL[&key=LABEL&pin_file=F&sessions=N] "+
		"(needs a build with -tags pkcs11). Secrets never go in the URI: COFFER_KMS_ROOT_KEY(_FILE), "+
		"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, COFFER_KMS_KES_API_KEY, COFFER_KMS_PKCS11_PIN, or the *_file= parameters")
	fs.StringVar(&k.endpoint, "kms-endpoint", "", "key manager `URL` (aws: default https://kms.<region>.amazonaws.com; kes: required)")
	fs.StringVar(&k.region, "kms-region", "", "KMS `region` (aws: required unless AWS_REGION is set; builtin: region in new key ARNs)")
	fs.StringVar(&k.kesCA, "kms-kes-ca", "", "PEM `file` of the CA that signed the KES server certificate (default: system roots)")
	fs.StringVar(&k.kesKey, "kms-kes-default-key", "", "KES key `name` used for aws/s3 (default "+kmsclient.DefaultKESKey+")")
	fs.DurationVar(&k.cacheTTL, "kms-cache-ttl", 5*time.Minute, "how long decrypted data keys of a remote key manager are cached")
	fs.DurationVar(&k.staleGrace, "kms-stale-grace", 0, "how long cached keys keep serving while a remote key manager is unreachable")
}

// uri returns the kmsclient backend URI the flags select: --kms as given
// when it is a URI, else the URI equivalent of the word and the
// --kms-endpoint, --kms-region, --kms-kes-ca and --kms-kes-default-key
// flags (which a URI must carry itself). It returns "" for none.
func (k *kmsConfig) uri() (string, error) {
	b := k.backend
	if strings.Contains(b, ":") {
		var extra []string
		for _, f := range []struct{ name, val string }{
			{"--kms-endpoint", k.endpoint}, {"--kms-region", k.region}, {"--kms-kes-ca", k.kesCA}, {"--kms-kes-default-key", k.kesKey},
		} {
			if f.val != "" {
				extra = append(extra, f.name)
			}
		}
		if len(extra) > 0 {
			return "", fmt.Errorf("--kms URI: %s apply only to --kms builtin|aws|kes; put the setting in the URI", strings.Join(extra, ", "))
		}
		return b, nil
	}
	q := url.Values{}
	switch b {
	case "none":
		return "", nil
	case "builtin", "":
		if k.region != "" {
			q.Set("region", k.region)
		}
		return withQuery("local:", q), nil
	case "aws":
		if k.endpoint != "" {
			q.Set("endpoint", k.endpoint)
		}
		return withQuery("aws-kms://"+k.region, q), nil
	case "kes":
		u, err := url.Parse(k.endpoint)
		if k.endpoint == "" || err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("--kms kes needs --kms-endpoint https://HOST[:PORT], got %q", k.endpoint)
		}
		if k.kesCA != "" {
			q.Set("ca", k.kesCA)
		}
		if k.kesKey != "" {
			q.Set("key", k.kesKey)
		}
		return withQuery("kes://"+u.Host, q), nil
	}
	return "", fmt.Errorf("--kms %q: want builtin, aws, kes, none or a URI (local:, aws-kms://, kes://, pkcs11:)", b)
}

func withQuery(base string, q url.Values) string {
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

// openKeyManager returns the engine key manager serve configures, and a
// closer that the caller must call once the engine is closed. The backend
// comes from kmsclient.Open (see kmsConfig.uri); remote backends sit
// behind a cache with --kms-cache-ttl and --kms-stale-grace. Secrets come
// only from the environment or from files a URI names (*_file=):
// COFFER_KMS_ROOT_KEY or COFFER_KMS_ROOT_KEY_FILE (builtin), AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY (aws), COFFER_KMS_KES_API_KEY (kes),
// COFFER_KMS_PKCS11_PIN (pkcs11).
func openKeyManager(k *kmsConfig, dataDir string, log *slog.Logger) (engine.KeyManager, func() error, error) {
	noop := func() error { return nil }
	uri, err := k.uri()
	if err != nil {
		return nil, noop, err
	}
	if uri == "" {
		if log != nil {
			log.Warn("no key manager: SSE-KMS and DSSE-KMS are unavailable and the SSE-S3 master key is stored unsealed on the drives")
		}
		return nil, noop, nil
	}
	km, err := kmsclient.Open(context.Background(), kmsclient.Config{URI: uri, Dir: dataDir, Logger: log,
		Cache: kmsclient.CacheOptions{TTL: k.cacheTTL, StaleIfUnavailable: k.staleGrace}})
	if err != nil {
		if strings.HasPrefix(uri, "local:") || strings.HasPrefix(uri, "builtin:") {
			return nil, noop, fmt.Errorf("opening the built-in keyring: %w", err)
		}
		return nil, noop, fmt.Errorf("opening the key manager: %w", err)
	}
	return kmsclient.NewEngineAdapter(km), km.Close, nil
}

const kmsUsage = `Usage: coffer kms COMMAND [flags] [KEY]

Manage the built-in keyring of a data folder (stop "coffer serve" first:
one process owns the keyring at a time). KEY is a key id, key ARN, alias
name (alias/...) or alias ARN. Every command prints key ARNs.

  create-key [--alias alias/NAME] [--description TEXT]
  list-keys
  describe-key KEY
  enable-key KEY
  disable-key KEY
  rotate-key KEY
  schedule-key-deletion [--days 7..30] KEY
  cancel-key-deletion KEY

Flags of every command:
  --data DIR     the data folder (the first drive of "coffer serve"; default ./coffer-data)
  --region NAME  region in the ARNs of a new keyring (default us-east-1)

The keyring is sealed under COFFER_KMS_ROOT_KEY, else the file named by
COFFER_KMS_ROOT_KEY_FILE, else DIR/kms/root.key (generated on first use).`

// kmsCommand runs "coffer kms ...".
func kmsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, kmsUsage)
		if len(args) == 0 {
			return errors.New("no kms command")
		}
		return nil
	}
	cmd := args[0]
	fs := flag.NewFlagSet("coffer kms "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./coffer-data", "the data `folder`")
	region := fs.String("region", "", "`region` in the ARNs of a new keyring")
	var alias, desc *string
	var days *int
	switch cmd {
	case "create-key":
		alias = fs.String("alias", "", "create `alias/NAME` for the key")
		desc = fs.String("description", "", "key `description`")
	case "schedule-key-deletion":
		days = fs.Int("days", 30, "waiting period in `days` (7 to 30)")
	case "list-keys", "describe-key", "enable-key", "disable-key", "rotate-key", "cancel-key-deletion":
	default:
		fmt.Fprintln(stderr, kmsUsage)
		return fmt.Errorf("unknown kms command %q", cmd)
	}
	// Flags may follow the key argument.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	needKey := cmd != "create-key" && cmd != "list-keys"
	switch {
	case needKey && len(pos) != 1:
		return fmt.Errorf("kms %s takes one KEY argument", cmd)
	case !needKey && len(pos) != 0:
		return fmt.Errorf("kms %s takes no arguments", cmd)
	}
	dir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{Dir: dir, Region: *region, Logger: log})
	if err != nil {
		if errors.Is(err, kmsclient.ErrKeyringLocked) {
			return fmt.Errorf("%w (is \"coffer serve\" running on %s? stop it first)", err, dir)
		}
		return err
	}
	defer kr.Close()
	arnOf := func(id string) (kmsclient.KeyInfo, error) { return kr.DescribeKey(ctx, id) }
	switch cmd {
	case "create-key":
		in := kmsclient.CreateKeyInput{Description: *desc}
		if *alias != "" {
			in.Alias = *alias
			if !strings.HasPrefix(in.Alias, "alias/") {
				in.Alias = "alias/" + in.Alias
			}
		}
		info, err := kr.CreateKey(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, info.ARN)
	case "list-keys":
		keys, err := kr.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if full, err := arnOf(k.ARN); err == nil {
				k = full
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", k.ARN, k.State, strings.Join(k.Aliases, ","))
		}
	case "describe-key":
		k, err := arnOf(pos[0])
		if err != nil {
			return err
		}
		printKey(stdout, k)
	case "enable-key", "disable-key", "rotate-key", "cancel-key-deletion":
		k, err := arnOf(pos[0])
		if err != nil {
			return err
		}
		op := map[string]func(context.Context, string) error{
			"enable-key": kr.EnableKey, "disable-key": kr.DisableKey, "rotate-key": kr.RotateKey,
			"cancel-key-deletion": kr.CancelKeyDeletion,
		}[cmd]
		if err := op(ctx, k.ARN); err != nil {
			return err
		}
		fmt.Fprintln(stdout, k.ARN)
	case "schedule-key-deletion":
		k, err := arnOf(pos[0])
		if err != nil {
			return err
		}
		when, err := kr.ScheduleKeyDeletion(ctx, k.ARN, time.Duration(*days)*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\tdeletion on %s\n", k.ARN, when.UTC().Format(time.RFC3339))
	}
	return nil
}

func printKey(w io.Writer, k kmsclient.KeyInfo) {
	fmt.Fprintf(w, "KeyArn:       %s\nKeyId:        %s\nState:        %s\nSpec:         %s\nUsage:        %s\n", k.ARN, k.KeyID, k.State, k.Spec, k.Usage)
	if len(k.Aliases) > 0 {
		fmt.Fprintf(w, "Aliases:      %s\n", strings.Join(k.Aliases, ", "))
	}
	if k.Description != "" {
		fmt.Fprintf(w, "Description:  %s\n", k.Description)
	}
	if !k.CreatedAt.IsZero() {
		fmt.Fprintf(w, "Created:      %s\n", k.CreatedAt.UTC().Format(time.RFC3339))
	}
	if !k.DeletionDate.IsZero() {
		fmt.Fprintf(w, "DeletionDate: %s\n", k.DeletionDate.UTC().Format(time.RFC3339))
	}
	if k.Versions > 0 {
		fmt.Fprintf(w, "Versions:     %d\n", k.Versions)
	}
	if k.AWSManaged {
		fmt.Fprintln(w, "Managed:      AWS (the default key, aws/s3)")
	}
}
