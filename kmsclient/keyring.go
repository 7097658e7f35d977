package kmsclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Keyring defaults.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
	defaultPartition = "aws"
	keyringName      = "keyring"
	defaultKeyDesc   = "Default key that protects my S3 objects when no other key is defined"
	minDeletionDays  = 7
	maxDeletionDays  = 30
)

// KeyringOptions configures OpenKeyring. The zero value of every field but
// Dir is a working default.
type KeyringOptions struct {
	// Dir is the data directory; the keyring lives in Dir/kms. Required.
	Dir string
	// Region and AccountID appear in key ARNs. They are fixed when the
	// keyring is created; opening an existing keyring with different
	// non-empty values fails. Defaults: DefaultRegion, DefaultAccountID.
	Region    string
	AccountID string
	// RootKey seals the keyring file. If nil, the root key comes from
	// COFFER_KMS_ROOT_KEY, else COFFER_KMS_ROOT_KEY_FILE, else Dir/kms/root.key
	// (generated on first start, with a warning through Logger).
	RootKey *RootKey
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness source; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Validate reports every problem with the options at once.
func (o *KeyringOptions) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("kmsclient: KeyringOptions.Dir is required"))
	}
	if o.Region != "" && !validRegion(o.Region) {
		errs = append(errs, fmt.Errorf("kmsclient: KeyringOptions.Region %q is not a region name", o.Region))
	}
	if o.AccountID != "" && !isAccount(o.AccountID) {
		errs = append(errs, fmt.Errorf("kmsclient: KeyringOptions.AccountID %q is not 12 digits", o.AccountID))
	}
	return errors.Join(errs...)
}

// Keyring is the built-in key manager: named, versioned AES-256 keys with
// aliases, states and scheduled deletion, persisted in Dir/kms/keyring.json
// sealed under a root key. It implements KeyManager, Encrypter, KeyAdmin and
// HealthChecker, and is safe for concurrent use. Keyrings in different
// directories are independent; a directory is owned by one open Keyring at
// a time (an flock on Dir/kms/LOCK; a second OpenKeyring fails with
// ErrKeyringLocked until Close).
type Keyring struct {
	dir    string
	lock   *dirLock
	root   *RootKey
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader
	mu     sync.RWMutex
	st     *ringState
	closed bool
}

type ringState struct {
	partition, region, account string
	keys                       map[string]*keyRecord
	aliases                    map[string]*aliasRecord
}

type keyRecord struct {
	id           string
	uuid         [16]byte
	description  string
	state        KeyState
	spec         KeySpec
	usage        KeyUsage
	created      time.Time
	deletionDate time.Time
	awsManaged   bool
	tags         map[string]string
	versions     []keyVersion // versions[i].n == i+1; material is immutable once created
}

type keyVersion struct {
	n        uint32
	created  time.Time
	material []byte
}

type aliasRecord struct {
	name    string
	target  string
	created time.Time
}

func newRingState(partition, region, account string) *ringState {
	return &ringState{partition: partition, region: region, account: account,
		keys: map[string]*keyRecord{}, aliases: map[string]*aliasRecord{}}
}

// clone copies the maps and records; key material slices are shared (they
// are never modified before Close).
func (st *ringState) clone() *ringState {
	c := newRingState(st.partition, st.region, st.account)
	for id, r := range st.keys {
		rc := *r
		rc.versions = slices.Clone(r.versions)
		c.keys[id] = &rc
	}
	for n, a := range st.aliases {
		ac := *a
		c.aliases[n] = &ac
	}
	return c
}

func (st *ringState) sortedKeys() []*keyRecord {
	out := make([]*keyRecord, 0, len(st.keys))
	for _, r := range st.keys {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *keyRecord) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

func (st *ringState) sortedAliases() []*aliasRecord {
	out := make([]*aliasRecord, 0, len(st.aliases))
	for _, a := range st.aliases {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *aliasRecord) int { return strings.Compare(a.name, b.name) })
	return out
}

func (st *ringState) arn(id string) string {
	return KeyARN(st.partition, st.region, st.account, id)
}

// OpenKeyring opens (or creates) the keyring in opts.Dir/kms.
func OpenKeyring(opts KeyringOptions) (*Keyring, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	k := &Keyring{dir: filepath.Join(opts.Dir, keyringSubdir), log: opts.Logger, now: opts.Now, rand: opts.Rand}
	if k.log == nil {
		k.log = slog.Default()
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return nil, fmt.Errorf("kmsclient: creating keyring directory: %w", err)
	}
	lock, err := lockDir(k.dir)
	if err != nil {
		return nil, err
	}
	k.lock = lock
	ok := false
	defer func() {
		if !ok {
			lock.unlock()
		}
	}()
	path := filepath.Join(k.dir, keyringFile)
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("kmsclient: %w", statErr)
	}
	root, err := k.loadRootKey(opts.RootKey, getenv, exists)
	if err != nil {
		return nil, err
	}
	k.root = root
	if exists {
		data, err := readBounded(path, maxKeyringFileSize)
		if err != nil {
			k.root.Zero()
			return nil, fmt.Errorf("kmsclient: reading keyring: %w", err)
		}
		st, err := decodeKeyring(data, root)
		if err != nil {
			k.root.Zero()
			return nil, err
		}
		if opts.Region != "" && opts.Region != st.region || opts.AccountID != "" && opts.AccountID != st.account {
			k.root.Zero()
			st.zero()
			return nil, fmt.Errorf("kmsclient: keyring was created for region %s account %s; cannot open it as region %q account %q",
				st.region, st.account, opts.Region, opts.AccountID)
		}
		k.st = st
		ok = true
		return k, nil
	}
	region, account := opts.Region, opts.AccountID
	if region == "" {
		region = DefaultRegion
	}
	if account == "" {
		account = DefaultAccountID
	}
	k.st = newRingState(defaultPartition, region, account)
	if err := k.persist(k.st); err != nil {
		k.root.Zero()
		return nil, err
	}
	ok = true
	return k, nil
}

// loadRootKey picks the root key: explicit, env, env file, stored file, or
// a newly generated one (only when no keyring exists yet).
func (k *Keyring) loadRootKey(explicit *RootKey, getenv func(string) string, keyringExists bool) (*RootKey, error) {
	if explicit != nil {
		return NewRootKey(explicit.Name, explicit.key[:])
	}
	env, envFile := getenv(EnvRootKey), getenv(EnvRootKeyFile)
	switch {
	case env != "" && envFile != "":
		return nil, fmt.Errorf("%w: set %s or %s, not both", ErrRootKey, EnvRootKey, EnvRootKeyFile)
	case env != "":
		rk, err := ParseRootKey(env)
		if err != nil {
			return nil, fmt.Errorf("%w (from %s)", err, EnvRootKey)
		}
		return rk, nil
	case envFile != "":
		return k.readRootKeyFile(envFile)
	}
	stored := filepath.Join(k.dir, rootKeyFile)
	if _, err := os.Stat(stored); err == nil {
		k.log.Warn("kmsclient: keyring root key is read from a file inside the data directory; "+
			"anyone who can read the data directory can decrypt its objects. Set "+EnvRootKey+" or "+EnvRootKeyFile+" to keep the root key elsewhere.",
			"path", stored)
		return k.readRootKeyFile(stored)
	}
	if keyringExists {
		return nil, fmt.Errorf("%w: %s exists but no root key was given (%s, %s) and %s is missing",
			ErrRootKey, filepath.Join(k.dir, keyringFile), EnvRootKey, EnvRootKeyFile, stored)
	}
	rk, err := generateRootKey(k.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: generating %s: %v", ErrRootKey, stored, err)
	}
	k.log.Warn("kmsclient: GENERATED A NEW KEYRING ROOT KEY AND STORED IT NEXT TO THE DATA. "+
		"Encrypted objects are only as safe as the data directory itself, and losing this file loses every object. "+
		"Move the key out of the data directory and set "+EnvRootKey+" or "+EnvRootKeyFile+".",
		"path", stored)
	return rk, nil
}

func (k *Keyring) readRootKeyFile(path string) (*RootKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRootKey, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		k.log.Warn("kmsclient: keyring root key file is readable by group or others", "path", path, "mode", info.Mode().Perm().String())
	}
	data, err := readBounded(path, 4096)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRootKey, err)
	}
	defer clear(data)
	rk, err := ParseRootKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, path)
	}
	return rk, nil
}

func (k *Keyring) persist(st *ringState) error {
	data, err := encodeKeyring(k.rand, k.root, st)
	if err != nil {
		return fmt.Errorf("kmsclient: sealing keyring: %w", err)
	}
	if err := writeFileAtomic(k.dir, keyringFile, data, 0o600); err != nil {
		return fmt.Errorf("kmsclient: writing keyring: %w", err)
	}
	return nil
}

func (st *ringState) zero() {
	for _, r := range st.keys {
		for _, v := range r.versions {
			clear(v.material)
		}
	}
}

// Close wipes the root key and all key material. Later calls fail with
// ErrClosed.
func (k *Keyring) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	k.st.zero()
	k.root.Zero()
	return k.lock.unlock()
}

// Name returns "keyring".
func (k *Keyring) Name() string { return keyringName }

// Region returns the region in the keyring's ARNs (fixed at creation).
func (k *Keyring) Region() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.st.region
}

// AccountID returns the account in the keyring's ARNs (fixed at creation).
func (k *Keyring) AccountID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.st.account
}

// Partition returns the partition in the keyring's ARNs.
func (k *Keyring) Partition() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.st.partition
}

func (k *Keyring) err(op, keyID string, sentinel error, format string, args ...any) *Error {
	return newError(keyringName, op, keyID, sentinel, format, args...)
}

var errNeedDefault = errors.New("default key does not exist yet")

// expired reports whether a pending deletion has come due.
func (k *Keyring) expired(r *keyRecord) bool {
	return r.state == KeyStatePendingDeletion && !k.now().Before(r.deletionDate)
}

// resolve finds the key a reference names. The caller holds k.mu.
func (k *Keyring) resolve(st *ringState, op, keyID string) (*keyRecord, error) {
	if keyID == "" {
		keyID = DefaultKeyAlias
	}
	ref, err := ParseKeyRef(keyID)
	if err != nil {
		// AWS answers a malformed key id with NotFoundException too.
		return nil, k.err(op, keyID, ErrNotFound, "Invalid keyId '%s'", truncateID(keyID))
	}
	if ref.Kind == KeyRefARN || ref.Kind == KeyRefAliasARN {
		if ref.Partition != st.partition || ref.Region != st.region || ref.Account != st.account {
			return nil, k.err(op, keyID, ErrNotFound, "Invalid arn %s", ref.Region)
		}
	}
	id := ref.ID
	if ref.Alias != "" {
		a, ok := st.aliases[ref.Alias]
		if !ok {
			if ref.Alias == DefaultKeyAlias {
				return nil, errNeedDefault
			}
			return nil, k.err(op, keyID, ErrNotFound, "Alias %s is not found.", AliasARN(st.partition, st.region, st.account, ref.Alias))
		}
		id = a.target
	}
	r, ok := st.keys[id]
	if !ok || k.expired(r) {
		if ref.Kind == KeyRefID && !strings.Contains(id, "-") {
			return nil, k.err(op, keyID, ErrNotFound, "Invalid keyId '%s'", truncateID(id))
		}
		return nil, k.err(op, keyID, ErrNotFound, "Key '%s' does not exist", st.arn(id))
	}
	return r, nil
}

// withKey runs fn with the key keyID names under the read lock, creating
// the default key first if keyID names it and it does not exist yet.
func (k *Keyring) withKey(ctx context.Context, op, keyID string, createDefault bool, fn func(st *ringState, r *keyRecord) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable(keyringName, op, keyID, err)
	}
	for attempt := 0; ; attempt++ {
		k.mu.RLock()
		if k.closed {
			k.mu.RUnlock()
			return k.err(op, keyID, ErrClosed, "keyring is closed")
		}
		r, err := k.resolve(k.st, op, keyID)
		if err == errNeedDefault {
			aliasARN := AliasARN(k.st.partition, k.st.region, k.st.account, DefaultKeyAlias)
			k.mu.RUnlock()
			if !createDefault || attempt > 0 {
				return k.err(op, keyID, ErrNotFound, "Alias %s is not found.", aliasARN)
			}
			if err := k.ensureDefault(op); err != nil {
				return err
			}
			continue
		}
		if err == nil {
			err = fn(k.st, r)
		}
		k.mu.RUnlock()
		return err
	}
}

// ensureDefault creates the AWS-managed default key behind alias/aws/s3.
func (k *Keyring) ensureDefault(op string) error {
	return k.mutate(op, "", func(st *ringState) error {
		if _, ok := st.aliases[DefaultKeyAlias]; ok {
			return nil
		}
		r, err := k.newKey(st, CreateKeyInput{Description: defaultKeyDesc, Spec: KeySpecSymmetricDefault, Usage: KeyUsageEncryptDecrypt})
		if err != nil {
			return err
		}
		r.awsManaged = true
		st.aliases[DefaultKeyAlias] = &aliasRecord{name: DefaultKeyAlias, target: r.id, created: r.created}
		return nil
	})
}

// mutate applies fn to a copy of the state, persists the copy, and only
// then makes it current: a failed write leaves the keyring unchanged.
func (k *Keyring) mutate(op, keyID string, fn func(st *ringState) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return k.err(op, keyID, ErrClosed, "keyring is closed")
	}
	next := k.st.clone()
	k.purgeExpired(next)
	if err := fn(next); err != nil {
		return err
	}
	if err := k.persist(next); err != nil {
		return &Error{Op: op, Backend: keyringName, KeyID: keyID, Code: CodeInternal, Status: 500, Retryable: true,
			Message: err.Error(), Err: errors.Join(ErrUnavailable, err)}
	}
	old := k.st
	k.st = next
	// Wipe the material of keys the change deleted. No reader can hold
	// them: readers run under the read lock.
	for id, r := range old.keys {
		if _, ok := next.keys[id]; !ok {
			for _, v := range r.versions {
				clear(v.material)
			}
		}
	}
	return nil
}

// purgeExpired deletes keys whose deletion date has passed, with their
// aliases. mutate wipes their material once the change is durable.
func (k *Keyring) purgeExpired(st *ringState) {
	for id, r := range st.keys {
		if k.expired(r) {
			delete(st.keys, id)
		}
	}
	for n, a := range st.aliases {
		if _, ok := st.keys[a.target]; !ok {
			delete(st.aliases, n)
		}
	}
}

// checkUse refuses keys that cannot encrypt or decrypt now.
func (k *Keyring) checkUse(st *ringState, op, keyID string, r *keyRecord) error {
	switch r.state {
	case KeyStateDisabled:
		return k.err(op, keyID, ErrDisabled, "%s is disabled.", st.arn(r.id))
	case KeyStatePendingDeletion:
		return k.err(op, keyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
	}
	if r.spec != KeySpecSymmetricDefault || r.usage != KeyUsageEncryptDecrypt {
		return k.err(op, keyID, ErrInvalidKeyUsage, "%s key usage is %s and key spec is %s; this operation needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key.",
			st.arn(r.id), r.usage, r.spec)
	}
	return nil
}

// GenerateDataKey returns a fresh random data key and its blob, bound to ec.
func (k *Keyring) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	const op = "GenerateDataKey"
	o, err := collectDataKeyOptions(opts)
	if err != nil {
		return DataKey{}, k.err(op, keyID, ErrInvalidArgument, "%v", err)
	}
	if err := ec.Validate(); err != nil {
		return DataKey{}, k.err(op, keyID, ErrInvalidArgument, "%v", err)
	}
	var dk DataKey
	err = k.withKey(ctx, op, keyID, true, func(st *ringState, r *keyRecord) error {
		if err := k.checkUse(st, op, keyID, r); err != nil {
			return err
		}
		pt := make([]byte, o.size)
		if _, err := io.ReadFull(k.rand, pt); err != nil {
			return k.err(op, keyID, ErrUnavailable, "reading randomness: %v", err)
		}
		v := r.versions[len(r.versions)-1]
		blob, err := sealBlob(k.rand, v.material, r.uuid, v.n, pt, ec.Canonical())
		if err != nil {
			clear(pt)
			return k.err(op, keyID, ErrUnavailable, "sealing data key: %v", err)
		}
		if o.noPlaintext {
			clear(pt)
			pt = nil
		}
		dk = DataKey{KeyID: st.arn(r.id), Plaintext: pt, Ciphertext: blob}
		return nil
	})
	return dk, err
}

// Encrypt seals a caller-chosen plaintext of 1..MaxPlaintextSize bytes.
func (k *Keyring) Encrypt(ctx context.Context, keyID string, plaintext []byte, ec EncryptionContext) ([]byte, string, error) {
	const op = "Encrypt"
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintextSize {
		return nil, "", k.err(op, keyID, ErrInvalidArgument, "plaintext must be 1 to %d bytes", MaxPlaintextSize)
	}
	if err := ec.Validate(); err != nil {
		return nil, "", k.err(op, keyID, ErrInvalidArgument, "%v", err)
	}
	var blob []byte
	var arn string
	err := k.withKey(ctx, op, keyID, true, func(st *ringState, r *keyRecord) error {
		if err := k.checkUse(st, op, keyID, r); err != nil {
			return err
		}
		v := r.versions[len(r.versions)-1]
		var err error
		if blob, err = sealBlob(k.rand, v.material, r.uuid, v.n, plaintext, ec.Canonical()); err != nil {
			return k.err(op, keyID, ErrUnavailable, "sealing: %v", err)
		}
		arn = st.arn(r.id)
		return nil
	})
	return blob, arn, err
}

// Decrypt opens a blob made by this keyring. keyID, if not empty, must name
// the key the blob was made under (any id form); otherwise the blob's own
// key is used, as AWS does for symmetric keys.
func (k *Keyring) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	pt, _, err := k.decrypt(ctx, "Decrypt", keyID, ciphertext, ec)
	return pt, err
}

// DecryptWithKeyID is Decrypt that also returns the ARN of the key that
// made the blob (what AWS's Decrypt response carries).
func (k *Keyring) DecryptWithKeyID(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, string, error) {
	return k.decrypt(ctx, "Decrypt", keyID, ciphertext, ec)
}

func (k *Keyring) decrypt(ctx context.Context, op, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", unavailable(keyringName, op, keyID, err)
	}
	hdr, err := parseBlob(ciphertext)
	if err != nil {
		return nil, "", k.err(op, keyID, ErrInvalidCiphertext, "The ciphertext is invalid.")
	}
	if err := ec.Validate(); err != nil {
		return nil, "", k.err(op, keyID, ErrInvalidArgument, "%v", err)
	}
	blobKey := formatUUID(hdr.uuid)
	var pt []byte
	var arn string
	err = k.withKey(ctx, op, blobKey, false, func(st *ringState, r *keyRecord) error {
		if keyID != "" {
			want, err := k.resolve(st, op, keyID)
			if err == errNeedDefault {
				return k.err(op, keyID, ErrInvalidCiphertext, "The key ID in the request does not identify the key that encrypted the ciphertext.").withCode(CodeIncorrectKey)
			}
			if err != nil {
				return err
			}
			if want.id != r.id {
				return k.err(op, keyID, ErrInvalidCiphertext, "The key ID in the request does not identify the key that encrypted the ciphertext.").withCode(CodeIncorrectKey)
			}
		}
		if err := k.checkUse(st, op, keyID, r); err != nil {
			return err
		}
		if hdr.version > uint32(len(r.versions)) {
			return k.err(op, keyID, ErrInvalidCiphertext, "The ciphertext is invalid.")
		}
		var err error
		if pt, err = openBlob(r.versions[hdr.version-1].material, ciphertext, ec.Canonical()); err != nil {
			return k.err(op, keyID, ErrInvalidCiphertext, "The ciphertext or encryption context is invalid.")
		}
		arn = st.arn(r.id)
		return nil
	})
	if err != nil {
		var e *Error
		if keyID == "" && errors.As(err, &e) && e.KeyID == blobKey {
			e.KeyID = ""
		}
		return nil, "", err
	}
	return pt, arn, nil
}

// DescribeKey describes the key any id form names ("" or alias/aws/s3: the
// default key, created on first use).
func (k *Keyring) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	var info KeyInfo
	err := k.withKey(ctx, "DescribeKey", keyID, true, func(st *ringState, r *keyRecord) error {
		info = k.info(st, r)
		return nil
	})
	return info, err
}

func (k *Keyring) info(st *ringState, r *keyRecord) KeyInfo {
	info := KeyInfo{KeyID: r.id, ARN: st.arn(r.id), Description: r.description, State: r.state, Spec: r.spec,
		Usage: r.usage, CreatedAt: r.created, DeletionDate: r.deletionDate, AWSManaged: r.awsManaged, Versions: len(r.versions)}
	for _, a := range st.sortedAliases() {
		if a.target == r.id {
			info.Aliases = append(info.Aliases, a.name)
		}
	}
	return info
}

// Check reports whether the keyring is open.
func (k *Keyring) Check(ctx context.Context) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return k.err("Check", "", ErrClosed, "keyring is closed")
	}
	return nil
}

// validSpecUsage lists the usages AWS allows per key spec family.
func checkSpecUsage(spec KeySpec, usage KeyUsage) error {
	s := string(spec)
	var ok bool
	switch {
	case spec == KeySpecSymmetricDefault:
		ok = usage == KeyUsageEncryptDecrypt
	case strings.HasPrefix(s, "RSA_") && (s == "RSA_2048" || s == "RSA_3072" || s == "RSA_4096"):
		ok = usage == KeyUsageEncryptDecrypt || usage == KeyUsageSignVerify
	case strings.HasPrefix(s, "ECC_") && (s == "ECC_NIST_P256" || s == "ECC_NIST_P384" || s == "ECC_NIST_P521" || s == "ECC_SECG_P256K1"):
		ok = usage == KeyUsageSignVerify || usage == KeyUsageKeyAgreement
	case s == "HMAC_224" || s == "HMAC_256" || s == "HMAC_384" || s == "HMAC_512":
		ok = usage == KeyUsageGenerateVerifyMAC
	default:
		return fmt.Errorf("%w: unsupported KeySpec %q", ErrInvalidArgument, truncateID(s))
	}
	if !ok {
		return fmt.Errorf("%w: KeyUsage %q is not valid for KeySpec %s", ErrInvalidArgument, truncateID(string(usage)), s)
	}
	return nil
}

// newKey adds a key to st (for CreateKey and the default key).
func (k *Keyring) newKey(st *ringState, in CreateKeyInput) (*keyRecord, error) {
	if len(st.keys) >= maxKeys {
		return nil, k.err("CreateKey", "", ErrInvalidArgument, "the keyring holds the maximum of %d keys", maxKeys).withCode(CodeLimitExceeded)
	}
	id, u, err := newUUID(k.rand)
	if err != nil {
		return nil, k.err("CreateKey", "", ErrUnavailable, "reading randomness: %v", err)
	}
	now := k.now().UTC()
	r := &keyRecord{id: id, uuid: u, description: in.Description, state: KeyStateEnabled, spec: in.Spec, usage: in.Usage,
		created: now, tags: in.Tags}
	if r.spec == KeySpecSymmetricDefault {
		m := make([]byte, materialLen)
		if _, err := io.ReadFull(k.rand, m); err != nil {
			return nil, k.err("CreateKey", "", ErrUnavailable, "reading randomness: %v", err)
		}
		r.versions = []keyVersion{{n: 1, created: now, material: m}}
	}
	st.keys[id] = r
	return r, nil
}

// CreateKey creates a key (symmetric by default) and, if in.Alias is set,
// an alias for it. Asymmetric and HMAC specs create a key record without
// material that refuses every data-key operation, as AWS does.
func (k *Keyring) CreateKey(ctx context.Context, in CreateKeyInput) (KeyInfo, error) {
	const op = "CreateKey"
	if in.Spec == "" {
		in.Spec = KeySpecSymmetricDefault
	}
	if in.Usage == "" {
		if in.Spec == KeySpecSymmetricDefault || strings.HasPrefix(string(in.Spec), "RSA_") {
			in.Usage = KeyUsageEncryptDecrypt
		} else if strings.HasPrefix(string(in.Spec), "HMAC_") {
			in.Usage = KeyUsageGenerateVerifyMAC
		} else {
			in.Usage = KeyUsageSignVerify
		}
	}
	if err := checkSpecUsage(in.Spec, in.Usage); err != nil {
		return KeyInfo{}, k.err(op, "", ErrInvalidArgument, "%v", err)
	}
	if len(in.Description) > maxDescriptionLen {
		return KeyInfo{}, k.err(op, "", ErrInvalidArgument, "description longer than %d characters", maxDescriptionLen)
	}
	if in.Alias != "" {
		if err := k.checkNewAlias(op, in.Alias); err != nil {
			return KeyInfo{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return KeyInfo{}, unavailable(keyringName, op, "", err)
	}
	in.Tags = cloneTags(in.Tags)
	var info KeyInfo
	err := k.mutate(op, "", func(st *ringState) error {
		if in.Alias != "" {
			if _, ok := st.aliases[in.Alias]; ok {
				return k.err(op, "", ErrAlreadyExists, "An alias with the name %s already exists", AliasARN(st.partition, st.region, st.account, in.Alias))
			}
		}
		r, err := k.newKey(st, in)
		if err != nil {
			return err
		}
		if in.Alias != "" {
			st.aliases[in.Alias] = &aliasRecord{name: in.Alias, target: r.id, created: r.created}
		}
		info = k.info(st, r)
		return nil
	})
	return info, err
}

func cloneTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	c := make(map[string]string, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

func (k *Keyring) checkNewAlias(op, alias string) error {
	if err := ValidateAliasName(alias); err != nil {
		return k.err(op, alias, ErrInvalidArgument, "%v", err).withCode(CodeInvalidAliasName)
	}
	if IsReservedAlias(alias) {
		return k.err(op, alias, ErrAccessDenied, "alias names beginning with alias/aws/ are reserved").withCode(CodeNotAuthorized)
	}
	return nil
}

// ListKeys returns every key, oldest first (keys whose deletion came due
// are gone).
func (k *Keyring) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(keyringName, "ListKeys", "", err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, k.err("ListKeys", "", ErrClosed, "keyring is closed")
	}
	var out []KeyInfo
	for _, r := range k.st.sortedKeys() {
		if !k.expired(r) {
			out = append(out, k.info(k.st, r))
		}
	}
	return out, nil
}

// CreateAlias points a new alias at a key. The target must be given as a
// key id or key ARN (not an alias), as AWS requires.
func (k *Keyring) CreateAlias(ctx context.Context, alias, targetKeyID string) error {
	const op = "CreateAlias"
	if err := k.checkNewAlias(op, alias); err != nil {
		return err
	}
	if ref, err := ParseKeyRef(targetKeyID); err == nil && (ref.Kind == KeyRefAlias || ref.Kind == KeyRefAliasARN) {
		return k.err(op, targetKeyID, ErrInvalidArgument, "TargetKeyId must be a key id or key ARN, not an alias")
	}
	if err := ctx.Err(); err != nil {
		return unavailable(keyringName, op, targetKeyID, err)
	}
	return k.mutate(op, targetKeyID, func(st *ringState) error {
		r, err := k.resolve(st, op, targetKeyID)
		if err != nil {
			return err
		}
		if r.awsManaged {
			return k.err(op, targetKeyID, ErrAccessDenied, "cannot alias an AWS managed key").withCode(CodeNotAuthorized)
		}
		if r.state == KeyStatePendingDeletion {
			return k.err(op, targetKeyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
		}
		if _, ok := st.aliases[alias]; ok {
			return k.err(op, targetKeyID, ErrAlreadyExists, "An alias with the name %s already exists", AliasARN(st.partition, st.region, st.account, alias))
		}
		st.aliases[alias] = &aliasRecord{name: alias, target: r.id, created: k.now().UTC()}
		return nil
	})
}

// DeleteAlias removes an alias; the key is unaffected.
func (k *Keyring) DeleteAlias(ctx context.Context, alias string) error {
	const op = "DeleteAlias"
	if err := k.checkNewAlias(op, alias); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable(keyringName, op, alias, err)
	}
	return k.mutate(op, alias, func(st *ringState) error {
		if _, ok := st.aliases[alias]; !ok {
			return k.err(op, alias, ErrNotFound, "Alias %s is not found.", AliasARN(st.partition, st.region, st.account, alias))
		}
		delete(st.aliases, alias)
		return nil
	})
}

// ListAliases lists aliases, all of them or those of one key.
func (k *Keyring) ListAliases(ctx context.Context, keyID string) ([]Alias, error) {
	const op = "ListAliases"
	if err := ctx.Err(); err != nil {
		return nil, unavailable(keyringName, op, keyID, err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, k.err(op, keyID, ErrClosed, "keyring is closed")
	}
	target := ""
	if keyID != "" {
		r, err := k.resolve(k.st, op, keyID)
		if err == errNeedDefault {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		target = r.id
	}
	var out []Alias
	for _, a := range k.st.sortedAliases() {
		r, ok := k.st.keys[a.target]
		if !ok || k.expired(r) || target != "" && a.target != target {
			continue
		}
		out = append(out, Alias{Name: a.name, ARN: AliasARN(k.st.partition, k.st.region, k.st.account, a.name), TargetKeyID: a.target, CreatedAt: a.created})
	}
	return out, nil
}

// modifyKey runs a state change on one customer-managed key.
func (k *Keyring) modifyKey(ctx context.Context, op, keyID string, fn func(st *ringState, r *keyRecord) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable(keyringName, op, keyID, err)
	}
	return k.mutate(op, keyID, func(st *ringState) error {
		r, err := k.resolve(st, op, keyID)
		if err == errNeedDefault {
			return k.err(op, keyID, ErrNotFound, "Alias %s is not found.", AliasARN(st.partition, st.region, st.account, DefaultKeyAlias))
		}
		if err != nil {
			return err
		}
		return fn(st, r)
	})
}

func (k *Keyring) refuseManaged(op, keyID string, st *ringState, r *keyRecord) error {
	if r.awsManaged {
		return k.err(op, keyID, ErrNotSupported, "%s is an AWS managed key; its state cannot be changed.", st.arn(r.id))
	}
	return nil
}

// EnableKey enables a disabled key.
func (k *Keyring) EnableKey(ctx context.Context, keyID string) error {
	const op = "EnableKey"
	return k.modifyKey(ctx, op, keyID, func(st *ringState, r *keyRecord) error {
		if err := k.refuseManaged(op, keyID, st, r); err != nil {
			return err
		}
		if r.state == KeyStatePendingDeletion {
			return k.err(op, keyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
		}
		r.state = KeyStateEnabled
		return nil
	})
}

// DisableKey disables a key: it refuses all use until enabled again.
func (k *Keyring) DisableKey(ctx context.Context, keyID string) error {
	const op = "DisableKey"
	return k.modifyKey(ctx, op, keyID, func(st *ringState, r *keyRecord) error {
		if err := k.refuseManaged(op, keyID, st, r); err != nil {
			return err
		}
		if r.state == KeyStatePendingDeletion {
			return k.err(op, keyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
		}
		r.state = KeyStateDisabled
		return nil
	})
}

// ScheduleKeyDeletion puts the key in PendingDeletion for window (whole
// days, 7 to 30). The key refuses all use at once and is deleted, with its
// aliases, when the window has passed; until then CancelKeyDeletion brings
// it back (disabled).
func (k *Keyring) ScheduleKeyDeletion(ctx context.Context, keyID string, window time.Duration) (time.Time, error) {
	const op = "ScheduleKeyDeletion"
	days := window / (24 * time.Hour)
	if window%(24*time.Hour) != 0 || days < minDeletionDays || days > maxDeletionDays {
		return time.Time{}, k.err(op, keyID, ErrInvalidArgument, "PendingWindowInDays must be a whole number of days from %d to %d", minDeletionDays, maxDeletionDays)
	}
	var when time.Time
	err := k.modifyKey(ctx, op, keyID, func(st *ringState, r *keyRecord) error {
		if err := k.refuseManaged(op, keyID, st, r); err != nil {
			return err
		}
		if r.state == KeyStatePendingDeletion {
			return k.err(op, keyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
		}
		when = k.now().UTC().Add(window)
		r.state, r.deletionDate = KeyStatePendingDeletion, when
		return nil
	})
	return when, err
}

// CancelKeyDeletion stops a scheduled deletion; the key becomes Disabled.
func (k *Keyring) CancelKeyDeletion(ctx context.Context, keyID string) error {
	const op = "CancelKeyDeletion"
	return k.modifyKey(ctx, op, keyID, func(st *ringState, r *keyRecord) error {
		if r.state != KeyStatePendingDeletion {
			return k.err(op, keyID, ErrInvalidState, "%s is not pending deletion.", st.arn(r.id))
		}
		r.state, r.deletionDate = KeyStateDisabled, time.Time{}
		return nil
	})
}

// RotateKey adds new key material and makes it current. Blobs made under
// earlier material keep decrypting.
func (k *Keyring) RotateKey(ctx context.Context, keyID string) error {
	const op = "RotateKey"
	return k.modifyKey(ctx, op, keyID, func(st *ringState, r *keyRecord) error {
		if r.spec != KeySpecSymmetricDefault {
			return k.err(op, keyID, ErrNotSupported, "%s is not a symmetric encryption key and cannot be rotated.", st.arn(r.id))
		}
		switch r.state {
		case KeyStateDisabled:
			return k.err(op, keyID, ErrDisabled, "%s is disabled.", st.arn(r.id))
		case KeyStatePendingDeletion:
			return k.err(op, keyID, ErrInvalidState, "%s is pending deletion.", st.arn(r.id))
		}
		if len(r.versions) >= maxVersionsPerKey {
			return k.err(op, keyID, ErrInvalidArgument, "%s has the maximum of %d versions", st.arn(r.id), maxVersionsPerKey).withCode(CodeLimitExceeded)
		}
		m := make([]byte, materialLen)
		if _, err := io.ReadFull(k.rand, m); err != nil {
			return k.err(op, keyID, ErrUnavailable, "reading randomness: %v", err)
		}
		r.versions = append(r.versions, keyVersion{n: uint32(len(r.versions) + 1), created: k.now().UTC(), material: m})
		return nil
	})
}

// Compile-time checks.
var (
	_ KeyManager    = (*Keyring)(nil)
	_ Encrypter     = (*Keyring)(nil)
	_ KeyAdmin      = (*Keyring)(nil)
	_ HealthChecker = (*Keyring)(nil)
)
