// Package kmsclient talks to key managers: the built-in keyring (the
// zero-config default), AWS KMS and AWS-compatible endpoints over the
// TrentService JSON protocol, MinIO KES, and PKCS#11 tokens (HSMs) in
// builds with the pkcs11 tag. Every backend offers the same small
// KeyManager core (generate a data key bound to an encryption context,
// decrypt it, describe a key) and reports failures with the same typed
// errors, named after AWS KMS's exceptions.
//
// # What it owns
//
//   - KeyManager, the optional Encrypter, KeyAdmin and HealthChecker
//     capabilities, and EngineAdapter, which presents any KeyManager with
//     the standard-library method set package engine declares (engine never
//     imports kmsclient).
//   - Keyring: named, versioned AES-256 keys with aliases, enable/disable,
//     scheduled deletion and rotation, persisted atomically in
//     <dir>/kms/keyring.json sealed under a root key (COFFER_KMS_ROOT_KEY,
//     COFFER_KMS_ROOT_KEY_FILE, or a generated <dir>/kms/root.key with a loud
//     warning). Key ARNs have AWS's form. kmsserver serves a Keyring over the
//     AWS KMS protocol.
//   - AWSClient: a standard-library AWS KMS client (SigV4 from
//     internal/sigv4, all four key id forms, the SDK's error-code
//     resolution, retries with jittered backoff).
//   - KESClient: a standard-library client for KES v0.23 (mTLS identity
//     derived from a KES API key, HTTP/2).
//   - PKCS11 (only with -tags pkcs11 and cgo, on github.com/miekg/pkcs11):
//     AES keys on a token found by CKA_LABEL, data keys from
//     C_GenerateRandom sealed on the token with CKM_AES_GCM and the
//     encryption context as associated data, a bounded session pool. Its
//     blob format is written down in pkcs11_format.go.
//   - Open: one entry point that takes a backend URI (local:, builtin:,
//     aws-kms://REGION?endpoint=…, kes://HOST:PORT?ca=…&key=…,
//     pkcs11:?module=…&token=…&key=…) and returns a ClosableKeyManager,
//     remote backends behind a Cache. Secrets come from the environment or
//     from files named by *_file= parameters, never from the URI; Config
//     lists which. A pkcs11: URI in a build without the tag fails with
//     ErrNotSupported.
//   - Decorators: Cache (bounded, time-limited data-key and description
//     cache that wipes plaintext on eviction and serves cached keys during
//     an outage) and Audit (JSON-lines audit log without key material).
//
// # Guarantees
//
// The encryption context is bound to every data key: Decrypt with any other
// context fails with ErrInvalidCiphertext. The keyring's blobs are
// self-describing (format version, key, key version) and authenticated
// together with the context under a per-blob HKDF subkey. Keyring changes
// are durable when the call returns (write temporary file, fsync, rename,
// fsync directory) and a failed write leaves the keyring unchanged. Nothing
// logs or formats key material or secrets; sizes from the network and from
// files are bounded; malformed input returns errors, never panics.
//
// # Errors
//
// Every error a KeyManager here returns is an *Error: errors.Is matches one
// of the sentinels (ErrNotFound, ErrDisabled, ErrInvalidState,
// ErrInvalidCiphertext, ErrInvalidKeyUsage, ErrAccessDenied, ErrUnavailable,
// …) and KMSErrorCode returns the AWS KMS exception name
// (NotFoundException, DisabledException, KMSInvalidStateException,
// InvalidCiphertextException, IncorrectKeyException,
// InvalidKeyUsageException, AccessDeniedException, KMSInternalException or
// DependencyTimeoutException for an unreachable backend, …), so the S3 layer
// can map them to S3's KMS.* errors through a one-method interface.
//
// # Concurrency
//
// Every exported type is safe for concurrent use. There is no package-level
// mutable state: two keyrings (or clients) in one process are independent.
// The exception is outside Go: a PKCS#11 module is initialised once per
// process, so only one PKCS11 per module may be open at a time.
//
// # Buffer ownership
//
// Data keys and plaintexts returned to callers are fresh slices the caller
// owns and should wipe (DataKey.Zero, clear). Inputs are never retained,
// except that Cache keeps its own copies of plaintexts until they expire.
package kmsclient
