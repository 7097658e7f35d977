package kmsclient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Environment variables and file names of the keyring's root key.
const (
	// EnvRootKey holds "<name>:<base64 of 32 bytes>".
	EnvRootKey = "COFFER_KMS_ROOT_KEY"
	// EnvRootKeyFile names a file holding "<name>:<base64 of 32 bytes>".
	EnvRootKeyFile = "COFFER_KMS_ROOT_KEY_FILE"

	keyringSubdir  = "kms"
	keyringFile    = "keyring.json"
	rootKeyFile    = "root.key"
	keyringFormat  = "coffer-kms-keyring"
	keyringVersion = 1
	keyringInfo    = "coffer kms keyring file v1"

	maxKeyringFileSize = 64 << 20
	maxKeys            = 100000
	maxVersionsPerKey  = 10000
	maxDescriptionLen  = 8192
)

// ErrRootKey reports a missing, malformed or wrong keyring root key.
var ErrRootKey = errors.New("kmsclient: keyring root key")

// ErrKeyringLocked reports that another open Keyring owns the directory.
var ErrKeyringLocked = errors.New("kmsclient: keyring directory is in use by another keyring")

// RootKey is the 256-bit key that seals the keyring file, with a name that
// is recorded in the file so that a wrong key is reported clearly.
type RootKey struct {
	Name string
	key  [32]byte
}

// ParseRootKey parses "<name>:<base64 of 32 bytes>" (surrounding white
// space ignored). The name is 1..64 characters of [A-Za-z0-9._-].
func ParseRootKey(s string) (*RootKey, error) {
	s = strings.TrimSpace(s)
	name, b64, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("%w: want <name>:<base64 of 32 bytes>", ErrRootKey)
	}
	if !validRootKeyName(name) {
		return nil, fmt.Errorf("%w: name must be 1-64 characters of A-Z a-z 0-9 . _ -", ErrRootKey)
	}
	var rk RootKey
	rk.Name = name
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != len(rk.key) {
		clear(raw)
		return nil, fmt.Errorf("%w: key must be standard base64 of exactly 32 bytes", ErrRootKey)
	}
	copy(rk.key[:], raw)
	clear(raw)
	return &rk, nil
}

// NewRootKey returns a root key with the given name and a copy of key
// (32 bytes). The caller may wipe key afterwards.
func NewRootKey(name string, key []byte) (*RootKey, error) {
	if !validRootKeyName(name) {
		return nil, fmt.Errorf("%w: name must be 1-64 characters of A-Z a-z 0-9 . _ -", ErrRootKey)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: key must be 32 bytes", ErrRootKey)
	}
	rk := &RootKey{Name: name}
	copy(rk.key[:], key)
	return rk, nil
}

// Zero wipes the key.
func (r *RootKey) Zero() { clear(r.key[:]) }

// String never prints the key.
func (r *RootKey) String() string { return "RootKey{Name: " + r.Name + ", Key: <redacted>}" }

// GoString is String.
func (r *RootKey) GoString() string { return r.String() }

func validRootKeyName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// envelope is keyring.json: the whole keyring state, sealed under a key
// derived from the root key. Sealing the whole state (not only the key
// material) also authenticates states, aliases and deletion dates.
type envelope struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	RootKey string `json:"root_key"`
	Salt    []byte `json:"salt"`
	Nonce   []byte `json:"nonce"`
	Sealed  []byte `json:"sealed"`
}

// stateFile is the sealed content of keyring.json.
type stateFile struct {
	Partition string      `json:"partition"`
	Region    string      `json:"region"`
	Account   string      `json:"account"`
	Keys      []keyFile   `json:"keys"`
	Aliases   []aliasFile `json:"aliases"`
}

type keyFile struct {
	ID           string            `json:"id"`
	Description  string            `json:"description,omitempty"`
	State        KeyState          `json:"state"`
	Spec         KeySpec           `json:"spec"`
	Usage        KeyUsage          `json:"usage"`
	Created      time.Time         `json:"created"`
	DeletionDate time.Time         `json:"deletion_date,omitzero"`
	AWSManaged   bool              `json:"aws_managed,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Versions     []versionFile     `json:"versions,omitempty"`
}

type versionFile struct {
	N        uint32    `json:"n"`
	Created  time.Time `json:"created"`
	Material []byte    `json:"material"`
}

type aliasFile struct {
	Name    string    `json:"name"`
	Target  string    `json:"target"`
	Created time.Time `json:"created"`
}

func envelopeAAD(rootName string) []byte {
	return []byte(keyringFormat + "\x00" + fmt.Sprint(keyringVersion) + "\x00" + rootName)
}

func envelopeAEAD(root *RootKey, salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, root.key[:], salt, keyringInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// encodeKeyring seals st under root.
func encodeKeyring(rnd io.Reader, root *RootKey, st *ringState) ([]byte, error) {
	plain, err := json.Marshal(st.toFile())
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	env := envelope{Format: keyringFormat, Version: keyringVersion, RootKey: root.Name,
		Salt: make([]byte, 32), Nonce: make([]byte, 12)}
	if _, err := io.ReadFull(rnd, env.Salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rnd, env.Nonce); err != nil {
		return nil, err
	}
	aead, err := envelopeAEAD(root, env.Salt)
	if err != nil {
		return nil, err
	}
	env.Sealed = aead.Seal(nil, env.Nonce, plain, envelopeAAD(root.Name))
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// decodeKeyring opens and validates keyring.json. It never panics on
// malformed input.
func decodeKeyring(data []byte, root *RootKey) (*ringState, error) {
	if len(data) > maxKeyringFileSize {
		return nil, fmt.Errorf("kmsclient: keyring file larger than %d bytes", maxKeyringFileSize)
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("kmsclient: keyring file is not valid: %w", err)
	}
	if env.Format != keyringFormat || env.Version != keyringVersion {
		return nil, fmt.Errorf("kmsclient: keyring file has format %q version %d, want %q version %d",
			truncateID(env.Format), env.Version, keyringFormat, keyringVersion)
	}
	if env.RootKey != root.Name {
		return nil, fmt.Errorf("%w: keyring is sealed under root key %q, not %q", ErrRootKey, truncateID(env.RootKey), root.Name)
	}
	if len(env.Salt) != 32 || len(env.Nonce) != 12 {
		return nil, errors.New("kmsclient: keyring file has a bad salt or nonce")
	}
	aead, err := envelopeAEAD(root, env.Salt)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, env.Nonce, env.Sealed, envelopeAAD(root.Name))
	if err != nil {
		return nil, fmt.Errorf("%w: root key %q does not open the keyring (wrong key or tampered file)", ErrRootKey, root.Name)
	}
	defer clear(plain)
	return decodeState(plain)
}

// decodeState parses and validates the sealed state.
func decodeState(plain []byte) (*ringState, error) {
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("kmsclient: keyring state is not valid: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("kmsclient: keyring state is not valid: "+format, args...)
	}
	if sf.Partition == "" || !validRegion(sf.Partition) || !validRegion(sf.Region) || !isAccount(sf.Account) {
		return nil, bad("bad partition, region or account")
	}
	if len(sf.Keys) > maxKeys {
		return nil, bad("more than %d keys", maxKeys)
	}
	st := newRingState(sf.Partition, sf.Region, sf.Account)
	for _, kf := range sf.Keys {
		u, ok := parseUUID(kf.ID)
		if !ok {
			return nil, bad("bad key id %q", truncateID(kf.ID))
		}
		if _, dup := st.keys[kf.ID]; dup {
			return nil, bad("duplicate key %s", kf.ID)
		}
		if err := checkSpecUsage(kf.Spec, kf.Usage); err != nil {
			return nil, bad("key %s: %v", kf.ID, err)
		}
		switch kf.State {
		case KeyStateEnabled, KeyStateDisabled:
			if !kf.DeletionDate.IsZero() {
				return nil, bad("key %s has a deletion date but is %s", kf.ID, kf.State)
			}
		case KeyStatePendingDeletion:
			if kf.DeletionDate.IsZero() {
				return nil, bad("key %s is pending deletion without a date", kf.ID)
			}
		default:
			return nil, bad("key %s has unknown state %q", kf.ID, truncateID(string(kf.State)))
		}
		if len(kf.Description) > maxDescriptionLen {
			return nil, bad("key %s description too long", kf.ID)
		}
		symmetric := kf.Spec == KeySpecSymmetricDefault
		if symmetric && (len(kf.Versions) == 0 || len(kf.Versions) > maxVersionsPerKey) || !symmetric && len(kf.Versions) != 0 {
			return nil, bad("key %s has %d material versions", kf.ID, len(kf.Versions))
		}
		rec := &keyRecord{id: kf.ID, uuid: u, description: kf.Description, state: kf.State, spec: kf.Spec, usage: kf.Usage,
			created: kf.Created, deletionDate: kf.DeletionDate, awsManaged: kf.AWSManaged, tags: kf.Tags}
		for i, v := range kf.Versions {
			if v.N != uint32(i+1) || len(v.Material) != materialLen {
				return nil, bad("key %s version %d is malformed", kf.ID, i+1)
			}
			rec.versions = append(rec.versions, keyVersion{n: v.N, created: v.Created, material: bytes.Clone(v.Material)})
			clear(v.Material)
		}
		st.keys[kf.ID] = rec
	}
	for _, af := range sf.Aliases {
		if err := ValidateAliasName(af.Name); err != nil {
			return nil, bad("alias %q: %v", truncateID(af.Name), err)
		}
		if _, dup := st.aliases[af.Name]; dup {
			return nil, bad("duplicate alias %s", af.Name)
		}
		if _, ok := st.keys[af.Target]; !ok {
			return nil, bad("alias %s targets unknown key", af.Name)
		}
		st.aliases[af.Name] = &aliasRecord{name: af.Name, target: af.Target, created: af.Created}
	}
	return st, nil
}

func (st *ringState) toFile() stateFile {
	sf := stateFile{Partition: st.partition, Region: st.region, Account: st.account,
		Keys: make([]keyFile, 0, len(st.keys)), Aliases: make([]aliasFile, 0, len(st.aliases))}
	for _, rec := range st.sortedKeys() {
		kf := keyFile{ID: rec.id, Description: rec.description, State: rec.state, Spec: rec.spec, Usage: rec.usage,
			Created: rec.created, DeletionDate: rec.deletionDate, AWSManaged: rec.awsManaged, Tags: rec.tags}
		for _, v := range rec.versions {
			kf.Versions = append(kf.Versions, versionFile{N: v.n, Created: v.created, Material: v.material})
		}
		sf.Keys = append(sf.Keys, kf)
	}
	for _, a := range st.sortedAliases() {
		sf.Aliases = append(sf.Aliases, aliasFile{Name: a.name, Target: a.target, Created: a.created})
	}
	return sf
}

func validRegion(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func newUUID(rnd io.Reader) (string, [16]byte, error) {
	var u [16]byte
	if _, err := io.ReadFull(rnd, u[:]); err != nil {
		return "", u, err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u), u, nil
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// parseUUID accepts only the canonical lower-case form.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if strings.ToLower(h) != h {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}

// writeFileAtomic writes data to dir/name so that a crash leaves either the
// old file or the new one: write a temporary file, fsync it, rename it over
// the target, fsync the directory.
func writeFileAtomic(dir, name string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	cleanup := func(e error) error {
		tmp.Close()
		os.Remove(tmpName)
		return e
	}
	if err := tmp.Chmod(perm); err != nil {
		return cleanup(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return cleanup(err)
	}
	if err := tmp.Sync(); err != nil {
		return cleanup(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmpName)
		return err
	}
	if err := os.Rename(tmpName, filepath.Join(dir, name)); err != nil {
		os.Remove(tmpName)
		return err
	}
	return syncDir(dir)
}

// createFileExclusive writes a new file that must not exist yet, synced,
// and syncs its directory.
func createFileExclusive(dir, name string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readBounded reads a whole file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("kmsclient: %s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// generateRootKey makes a fresh root key and stores it in dir/root.key.
func generateRootKey(dir string) (*RootKey, error) {
	rk := &RootKey{Name: "generated"}
	if _, err := rand.Read(rk.key[:]); err != nil {
		return nil, err
	}
	line := []byte(rk.Name + ":" + base64.StdEncoding.EncodeToString(rk.key[:]) + "\n")
	defer clear(line)
	if err := createFileExclusive(dir, rootKeyFile, line, 0o600); err != nil {
		rk.Zero()
		return nil, err
	}
	return rk, nil
}
