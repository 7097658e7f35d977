// Package kmsserver serves the AWS KMS JSON protocol (TrentService over
// HTTP, application/x-amz-json-1.1, SigV4) backed by a kmsclient.Keyring.
// One keyring can then serve a fleet of appliances, and tests get a real
// AWS-protocol endpoint on 127.0.0.1 that both kmsclient's AWS client and
// aws-sdk-go-v2/service/kms talk to.
//
// # What it owns
//
// Request authentication (SigV4, service "kms", constant-time signature
// comparison), JSON decoding with bounded sizes, the operations
// GenerateDataKey, GenerateDataKeyWithoutPlaintext, Decrypt, Encrypt,
// ReEncrypt, DescribeKey, CreateKey, CreateAlias, DeleteAlias, ListKeys,
// ListAliases, EnableKey, DisableKey, ScheduleKeyDeletion,
// CancelKeyDeletion and RotateKeyOnDemand, and errors as AWS sends them
// ({"__type": "...", "message": "..."} with AWS's HTTP statuses).
//
// # Guarantees
//
// Nothing is executed before the signature checks out. Request bodies are
// bounded (Options.MaxBodySize). Malformed input yields an AWS error, never
// a panic. Key material leaves only in GenerateDataKey and Decrypt
// responses; nothing is logged but operation names and error codes.
//
// Differences from AWS: there are no key policies, grants or IAM; any
// holder of a configured access key may call every operation. Session
// tokens are refused. EnableKey, DisableKey and deletion calls accept
// aliases too.
//
// # Concurrency
//
// A Handler is safe for concurrent use; the keyring serializes changes.
package kmsserver
