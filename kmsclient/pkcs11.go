//go:build pkcs11 && cgo

package kmsclient

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// PKCS11Supported reports whether this build has the PKCS#11 backend
// (built with -tags pkcs11 and cgo).
const PKCS11Supported = true

const pkcs11Name = "pkcs11"

// PKCS11 is a key manager backed by a PKCS#11 token (an HSM, or SoftHSM2
// for tests). Keys are AES secret keys stored on the token and found by
// CKA_LABEL; the label is the canonical key id. A data key is random bytes
// from C_GenerateRandom sealed on the token with CKM_AES_GCM, with the
// encryption context in the associated data (see the blob format in
// pkcs11_format.go), so key material never leaves the token.
//
// It implements KeyManager and HealthChecker and is safe for concurrent
// use: PKCS#11 sessions are not, so each operation borrows a session from a
// bounded pool (PKCS11Options.MaxSessions) and waits, bounded by its
// context, when all are busy. It exists only in builds with the pkcs11 tag
// and cgo.
//
// A PKCS#11 module is initialised once per process: open one PKCS11 per
// module at a time (a second one fails until the first is closed). The
// plaintext of data keys passes through C memory that miekg/pkcs11 frees
// without wiping.
type PKCS11 struct {
	mod           *pkcs11.Ctx
	slot          uint
	token         string
	pin           string
	loginRequired bool
	defaultKey    string

	slots    chan struct{}             // one token per session in use
	idle     chan pkcs11.SessionHandle // open, logged-in, unused sessions
	done     chan struct{}             // closed by Close
	mu       sync.Mutex                // guards closed and inflight.Add
	closed   bool
	inflight sync.WaitGroup // operations holding a session
	createMu sync.Mutex     // serialises key creation (find, then generate)
}

// OpenPKCS11 loads the module, finds the token labelled opts.TokenLabel,
// opens a session and logs in with opts.PIN. The caller must Close the
// result, which closes the sessions and finalises the module.
func OpenPKCS11(ctx context.Context, opts PKCS11Options) (*PKCS11, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mod := pkcs11.New(opts.Module)
	if mod == nil {
		return nil, fmt.Errorf("kmsclient: pkcs11: cannot load module %s", opts.Module)
	}
	if err := mod.Initialize(); err != nil {
		mod.Destroy()
		if errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
			return nil, fmt.Errorf("kmsclient: pkcs11: module %s is already initialised in this process (close the other PKCS11 key manager first)", opts.Module)
		}
		return nil, fmt.Errorf("kmsclient: pkcs11: initialising %s: %w", opts.Module, err)
	}
	fail := func(err error) (*PKCS11, error) {
		mod.Finalize()
		mod.Destroy()
		return nil, err
	}
	slots, err := mod.GetSlotList(true)
	if err != nil {
		return fail(fmt.Errorf("kmsclient: pkcs11: listing slots: %w", err))
	}
	found := false
	var slot uint
	var info pkcs11.TokenInfo
	for _, s := range slots {
		ti, err := mod.GetTokenInfo(s)
		if err != nil || ti.Label != opts.TokenLabel || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if found {
			return fail(fmt.Errorf("kmsclient: pkcs11: more than one token is labelled %q", opts.TokenLabel))
		}
		found, slot, info = true, s, ti
	}
	if !found {
		return fail(fmt.Errorf("kmsclient: pkcs11: no initialised token labelled %q in %s", opts.TokenLabel, opts.Module))
	}
	p := &PKCS11{mod: mod, slot: slot, token: opts.TokenLabel, pin: opts.PIN,
		loginRequired: info.Flags&pkcs11.CKF_LOGIN_REQUIRED != 0, defaultKey: opts.DefaultKey}
	if p.loginRequired && p.pin == "" {
		return fail(fmt.Errorf("kmsclient: pkcs11: token %q needs a PIN (%s)", opts.TokenLabel, secretHints[SchemePKCS11]))
	}
	if p.defaultKey == "" {
		p.defaultKey = DefaultPKCS11Key
	}
	n := opts.MaxSessions
	if n == 0 {
		n = defaultPKCS11Sessions
	}
	p.slots, p.idle, p.done = make(chan struct{}, n), make(chan pkcs11.SessionHandle, n), make(chan struct{})
	// One session now, so that a wrong PIN or a full token fails here.
	s, err := p.openSession()
	if err != nil {
		return fail(p.ckError("Open", "", err))
	}
	p.idle <- s
	return p, nil
}

// openPKCS11 is Open's entry point for pkcs11: URIs.
func openPKCS11(ctx context.Context, opts PKCS11Options) (KeyManager, func() error, error) {
	p, err := OpenPKCS11(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return p, p.Close, nil
}

// Name returns "pkcs11".
func (p *PKCS11) Name() string { return pkcs11Name }

// openSession opens a read/write session and logs in. Login is per
// application, so CKR_USER_ALREADY_LOGGED_IN is success; it is needed again
// after the last session closed.
func (p *PKCS11) openSession() (pkcs11.SessionHandle, error) {
	s, err := p.mod.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, err
	}
	if p.loginRequired {
		if err := p.mod.Login(s, pkcs11.CKU_USER, p.pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			p.mod.CloseSession(s)
			return 0, err
		}
	}
	return s, nil
}

func (p *PKCS11) closedError(op, keyID string) *Error {
	return newError(pkcs11Name, op, keyID, ErrClosed, "the PKCS#11 key manager is closed")
}

// acquire borrows a session, waiting while all are in use.
func (p *PKCS11) acquire(ctx context.Context, op, keyID string) (pkcs11.SessionHandle, error) {
	select {
	case <-p.done:
		return 0, p.closedError(op, keyID)
	case <-ctx.Done():
		return 0, unavailable(pkcs11Name, op, keyID, ctx.Err())
	case p.slots <- struct{}{}:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return 0, p.closedError(op, keyID)
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	s, err := p.openSession()
	if err != nil {
		<-p.slots
		p.inflight.Done()
		return 0, p.ckError(op, keyID, err)
	}
	return s, nil
}

// release returns a session to the pool, or closes it if an operation on
// it failed inside the token (its state is then not trusted).
func (p *PKCS11) release(s pkcs11.SessionHandle, healthy bool) {
	if healthy {
		select {
		case p.idle <- s:
		default: // cannot happen while sessions ≤ cap(idle); never block
			p.mod.CloseSession(s)
		}
	} else {
		p.mod.CloseSession(s)
	}
	<-p.slots
	p.inflight.Done()
}

// withSession runs fn on a borrowed session. A failure of a PKCS#11 call
// (a pkcs11.Error in the chain) retires the session.
func (p *PKCS11) withSession(ctx context.Context, op, keyID string, fn func(pkcs11.SessionHandle) error) error {
	s, err := p.acquire(ctx, op, keyID)
	if err != nil {
		return err
	}
	err = fn(s)
	var ck pkcs11.Error
	p.release(s, !errors.As(err, &ck))
	return err
}

// Close waits for running operations, closes every session and finalises
// the module. Later calls fail with ErrClosed. Close is idempotent.
func (p *PKCS11) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.inflight.Wait()
drain:
	for range cap(p.idle) {
		select {
		case s := <-p.idle:
			p.mod.CloseSession(s)
		default:
			break drain
		}
	}
	p.pin = ""
	err := p.mod.Finalize()
	p.mod.Destroy()
	if err != nil {
		return fmt.Errorf("kmsclient: pkcs11: finalising the module: %w", err)
	}
	return nil
}

// pkcs11Outage reports CKR_* values that say the token or session is gone
// rather than that the request was wrong.
func pkcs11Outage(rv uint) bool {
	switch rv {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
		pkcs11.CKR_FUNCTION_CANCELED, pkcs11.CKR_SESSION_COUNT, pkcs11.CKR_CANT_LOCK:
		return true
	}
	return false
}

// ckError maps a PKCS#11 failure to an *Error (kms.md §3.4): PIN and login
// failures are access denied, a key the mechanism cannot use is an invalid
// key usage, a key that may not encrypt or decrypt is disabled, and
// everything else is the token being unavailable.
func (p *PKCS11) ckError(op, keyID string, err error) *Error {
	var ck pkcs11.Error
	if !errors.As(err, &ck) {
		return unavailable(pkcs11Name, op, keyID, err)
	}
	sentinel := ErrUnavailable
	switch uint(ck) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED,
		pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_USER_PIN_NOT_INITIALIZED,
		pkcs11.CKR_USER_TYPE_INVALID:
		sentinel = ErrAccessDenied
	case pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID:
		sentinel = ErrNotFound
	case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED:
		sentinel = ErrDisabled
	case pkcs11.CKR_KEY_TYPE_INCONSISTENT, pkcs11.CKR_KEY_SIZE_RANGE:
		sentinel = ErrInvalidKeyUsage
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_FUNCTION_NOT_SUPPORTED:
		sentinel = ErrNotSupported
	case pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:
		sentinel = ErrInvalidCiphertext
	}
	e := newError(pkcs11Name, op, keyID, sentinel, "token %q: %s", p.token, ck.Error())
	e.Err = errors.Join(sentinel, ck)
	return e
}

// label maps a key reference to a key label.
func (p *PKCS11) label(op, keyID string) (label string, isDefault bool, err error) {
	if isDefaultKey(keyID) {
		return p.defaultKey, true, nil
	}
	if !validPKCS11Label(keyID) {
		return "", false, newError(pkcs11Name, op, keyID, ErrNotFound, "Invalid keyId '%s': not a PKCS#11 key label", truncateID(keyID))
	}
	return keyID, false, nil
}

// findKey returns the handle of the token's secret key labelled label.
func (p *PKCS11) findKey(s pkcs11.SessionHandle, op, keyID, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := p.mod.FindObjectsInit(s, tmpl); err != nil {
		return 0, p.ckError(op, keyID, err)
	}
	objs, _, err := p.mod.FindObjects(s, 2)
	if ferr := p.mod.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, p.ckError(op, keyID, err)
	}
	switch len(objs) {
	case 0:
		return 0, newError(pkcs11Name, op, keyID, ErrNotFound, "Key '%s' does not exist on token %q", label, p.token)
	case 1:
		return objs[0], nil
	}
	return 0, newError(pkcs11Name, op, keyID, ErrInvalidState, "more than one secret key on token %q is labelled %q", p.token, label)
}

// findOrCreateDefault finds the key, creating it first if it is the
// default key and missing.
func (p *PKCS11) findOrCreateDefault(s pkcs11.SessionHandle, op, keyID, label string, isDefault bool) (pkcs11.ObjectHandle, error) {
	h, err := p.findKey(s, op, keyID, label)
	if !isDefault || !errors.Is(err, ErrNotFound) {
		return h, err
	}
	p.createMu.Lock()
	defer p.createMu.Unlock()
	if h, err = p.findKey(s, op, keyID, label); !errors.Is(err, ErrNotFound) {
		return h, err
	}
	return p.generateKey(s, op, label)
}

// generateKey makes an AES-256 token key that never leaves the token.
func (p *PKCS11) generateKey(s pkcs11.SessionHandle, op, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, p.loginRequired),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, label),
	}
	h, err := p.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
	if err != nil {
		return 0, p.ckError(op, label, err)
	}
	return h, nil
}

// CreateKey makes a new AES-256 key labelled label on the token: a token
// object, sensitive, not extractable, usable for encryption and decryption
// only. It fails with ErrAlreadyExists if a secret key with that label
// exists. Keys created by other tools work too (see DescribeKey).
func (p *PKCS11) CreateKey(ctx context.Context, label string) (KeyInfo, error) {
	const op = "CreateKey"
	if !validPKCS11Label(label) {
		return KeyInfo{}, newError(pkcs11Name, op, label, ErrInvalidArgument, "%q is not a valid key label (1 to %d of A-Z a-z 0-9 . _ -)", truncateID(label), maxPKCS11LabelLen)
	}
	var info KeyInfo
	err := p.withSession(ctx, op, label, func(s pkcs11.SessionHandle) error {
		p.createMu.Lock()
		defer p.createMu.Unlock()
		_, err := p.findKey(s, op, label, label)
		switch {
		case err == nil:
			return newError(pkcs11Name, op, label, ErrAlreadyExists, "a secret key labelled %q already exists on token %q", label, p.token)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		h, err := p.generateKey(s, op, label)
		if err != nil {
			return err
		}
		info, err = p.describe(s, op, label, h, label == p.defaultKey)
		return err
	})
	return info, err
}

// GenerateDataKey draws a data key (32 bytes unless WithNumberOfBytes) and
// a 96-bit IV from the token's generator and seals the data key on the
// token with AES-GCM under the labelled key, binding ec. "" and
// alias/aws/s3 mean the default key, which is created if it is missing.
func (p *PKCS11) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	op := "GenerateDataKey"
	o, err := collectDataKeyOptions(opts)
	if o.noPlaintext {
		op = "GenerateDataKeyWithoutPlaintext"
	}
	if err != nil {
		return DataKey{}, newError(pkcs11Name, op, keyID, ErrInvalidArgument, "%v", err)
	}
	if err := ec.Validate(); err != nil {
		return DataKey{}, newError(pkcs11Name, op, keyID, ErrInvalidArgument, "%v", err)
	}
	label, isDefault, err := p.label(op, keyID)
	if err != nil {
		return DataKey{}, err
	}
	var dk DataKey
	err = p.withSession(ctx, op, keyID, func(s pkcs11.SessionHandle) error {
		h, err := p.findOrCreateDefault(s, op, keyID, label, isDefault)
		if err != nil {
			return err
		}
		rnd, err := p.mod.GenerateRandom(s, o.size+pkcs11IVLen)
		if err != nil {
			return p.ckError(op, keyID, err)
		}
		defer clear(rnd)
		if len(rnd) != o.size+pkcs11IVLen {
			return newError(pkcs11Name, op, keyID, ErrUnavailable, "token returned %d random bytes, want %d", len(rnd), o.size+pkcs11IVLen)
		}
		plain, iv := rnd[:o.size], rnd[o.size:]
		params := pkcs11.NewGCMParams(iv, pkcs11AAD(label, ec.Canonical()), pkcs11TagLen*8)
		defer params.Free()
		if err := p.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, h); err != nil {
			return p.ckError(op, keyID, err)
		}
		sealed, err := p.mod.Encrypt(s, plain)
		if err != nil {
			return p.ckError(op, keyID, err)
		}
		if used := params.IV(); len(used) == pkcs11IVLen {
			iv = used // a token may choose the IV itself
		}
		if len(sealed) != o.size+pkcs11TagLen {
			return newError(pkcs11Name, op, keyID, ErrUnavailable, "token returned a %d-byte AES-GCM ciphertext for %d bytes", len(sealed), o.size)
		}
		dk = DataKey{KeyID: label, Ciphertext: pkcs11Blob(label, iv, sealed)}
		if !o.noPlaintext {
			dk.Plaintext = append([]byte(nil), plain...)
		}
		return nil
	})
	if err != nil {
		return DataKey{}, err
	}
	return dk, nil
}

// Decrypt opens a blob made by GenerateDataKey. keyID is the label it was
// made under ("" means whatever label the blob names; alias/aws/s3 the
// default key); a blob of another key fails with IncorrectKeyException. A
// wrong context or a damaged blob fails with ErrInvalidCiphertext: every
// failure of C_Decrypt is reported so, except those that say the token or
// session is gone (ErrUnavailable).
func (p *PKCS11) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	const op = "Decrypt"
	blobLabel, iv, sealed, err := parsePKCS11Blob(ciphertext)
	if err != nil {
		return nil, newError(pkcs11Name, op, keyID, ErrInvalidCiphertext, "The ciphertext is invalid.")
	}
	if err := ec.Validate(); err != nil {
		return nil, newError(pkcs11Name, op, keyID, ErrInvalidArgument, "%v", err)
	}
	if keyID != "" {
		label, _, err := p.label(op, keyID)
		if err != nil {
			return nil, err
		}
		if label != blobLabel {
			return nil, newError(pkcs11Name, op, keyID, ErrInvalidCiphertext,
				"The key ID in the request does not identify the key that encrypted the ciphertext.").withCode(CodeIncorrectKey)
		}
	}
	var plain []byte
	err = p.withSession(ctx, op, keyID, func(s pkcs11.SessionHandle) error {
		h, err := p.findKey(s, op, keyID, blobLabel)
		if err != nil {
			return err
		}
		params := pkcs11.NewGCMParams(iv, pkcs11AAD(blobLabel, ec.Canonical()), pkcs11TagLen*8)
		defer params.Free()
		if err := p.mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, h); err != nil {
			return p.ckError(op, keyID, err)
		}
		pt, err := p.mod.Decrypt(s, sealed)
		if err != nil {
			var ck pkcs11.Error
			if errors.As(err, &ck) && pkcs11Outage(uint(ck)) {
				return p.ckError(op, keyID, err)
			}
			e := newError(pkcs11Name, op, keyID, ErrInvalidCiphertext, "The ciphertext or encryption context is invalid.")
			e.Err = errors.Join(ErrInvalidCiphertext, err)
			return e
		}
		if len(pt) != len(sealed)-pkcs11TagLen {
			clear(pt)
			return newError(pkcs11Name, op, keyID, ErrUnavailable, "token returned %d bytes for a %d-byte ciphertext", len(pt), len(sealed))
		}
		plain = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plain, nil
}

// DescribeKey reports whether the labelled key exists, whether it is
// enabled (it may encrypt and decrypt: CKA_ENCRYPT and CKA_DECRYPT) and
// whether it is a symmetric key (an AES-256 key is SYMMETRIC_DEFAULT; other
// AES sizes and key types are reported as such and cannot serve SSE-KMS).
// "" and alias/aws/s3 describe the default key, created if missing.
func (p *PKCS11) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	const op = "DescribeKey"
	label, isDefault, err := p.label(op, keyID)
	if err != nil {
		return KeyInfo{}, err
	}
	var info KeyInfo
	err = p.withSession(ctx, op, keyID, func(s pkcs11.SessionHandle) error {
		h, err := p.findOrCreateDefault(s, op, keyID, label, isDefault)
		if err != nil {
			return err
		}
		info, err = p.describe(s, op, keyID, h, isDefault)
		return err
	})
	return info, err
}

// describe reads a key's attributes one at a time (a token may refuse
// some, which then count as unknown).
func (p *PKCS11) describe(s pkcs11.SessionHandle, op, keyID string, h pkcs11.ObjectHandle, isDefault bool) (KeyInfo, error) {
	attr := func(typ uint) ([]byte, bool) {
		a, err := p.mod.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
		if err != nil || len(a) != 1 {
			return nil, false
		}
		return a[0].Value, true
	}
	ulong := func(typ uint) (uint64, bool) {
		v, ok := attr(typ)
		switch {
		case !ok:
			return 0, false
		case len(v) == 8:
			return binary.NativeEndian.Uint64(v), true
		case len(v) == 4:
			return uint64(binary.NativeEndian.Uint32(v)), true
		}
		return 0, false
	}
	flag := func(typ uint) bool {
		v, ok := attr(typ)
		return ok && len(v) == 1 && v[0] != 0
	}
	labelBytes, ok := attr(pkcs11.CKA_LABEL)
	if !ok {
		return KeyInfo{}, newError(pkcs11Name, op, keyID, ErrUnavailable, "cannot read the key's label")
	}
	info := KeyInfo{KeyID: string(labelBytes), State: KeyStateDisabled, AWSManaged: isDefault}
	if flag(pkcs11.CKA_ENCRYPT) && flag(pkcs11.CKA_DECRYPT) {
		info.State = KeyStateEnabled
	}
	kt, _ := ulong(pkcs11.CKA_KEY_TYPE)
	size, _ := ulong(pkcs11.CKA_VALUE_LEN)
	switch {
	case kt == pkcs11.CKK_AES && size == 32:
		info.Spec, info.Usage = KeySpecSymmetricDefault, KeyUsageEncryptDecrypt
	case kt == pkcs11.CKK_AES:
		info.Spec, info.Usage = KeySpec(fmt.Sprintf("AES_%d", size*8)), KeyUsageEncryptDecrypt
	default:
		info.Spec = KeySpec(fmt.Sprintf("PKCS11_KEY_TYPE_0x%X", kt))
	}
	extractable := flag(pkcs11.CKA_EXTRACTABLE) || !flag(pkcs11.CKA_SENSITIVE)
	info.Description = fmt.Sprintf("PKCS#11 secret key on token %q", p.token)
	if extractable {
		info.Description += " (extractable: its value can leave the token)"
	}
	return info, nil
}

// Check opens (or borrows) a session and asks the token about it.
func (p *PKCS11) Check(ctx context.Context) error {
	return p.withSession(ctx, "Check", "", func(s pkcs11.SessionHandle) error {
		if _, err := p.mod.GetSessionInfo(s); err != nil {
			return p.ckError("Check", "", err)
		}
		return nil
	})
}

// Compile-time checks.
var (
	_ KeyManager    = (*PKCS11)(nil)
	_ HealthChecker = (*PKCS11)(nil)
)
