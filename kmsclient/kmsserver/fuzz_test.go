package kmsserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/cofferdb/coffer/kmsclient"
)

var fuzzOps = []string{
	"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Decrypt", "Encrypt", "ReEncrypt", "DescribeKey",
	"CreateKey", "CreateAlias", "DeleteAlias", "ListKeys", "ListAliases", "EnableKey", "DisableKey",
	"ScheduleKeyDeletion", "CancelKeyDeletion", "RotateKeyOnDemand", "Bogus",
}

// fuzzDir prefers a memory file system: every admin operation fsyncs the
// keyring file, which would otherwise dominate fuzzing time.
func fuzzDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "kmsserver-fuzz-")
		if err == nil {
			f.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return f.TempDir()
}

// FuzzDispatch feeds arbitrary JSON bodies to every operation: the handler
// must answer with a well-formed AWS response or error, never panic, and
// never report an internal error for bad input.
func FuzzDispatch(f *testing.F) {
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{
		Dir: fuzzDir(f),
		Getenv: func(k string) string {
			return map[string]string{kmsclient.EnvRootKey: "f:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}[k]
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	defer kr.Close()
	info, err := kr.CreateKey(context.Background(), kmsclient.CreateKeyInput{Alias: "alias/fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	dk, _ := kr.GenerateDataKey(context.Background(), "alias/fuzz", kmsclient.EncryptionContext{"a": "b"})
	blob, _ := json.Marshal(dk.Ciphertext)
	h, err := New(Options{Keyring: kr, Credentials: StaticCredentials(nil)})
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		`{"KeyId":"alias/fuzz","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}`,
		`{"KeyId":"alias/fuzz","NumberOfBytes":1024}`,
		`{"CiphertextBlob":` + string(blob) + `,"EncryptionContext":{"a":"b"}}`,
		`{"KeyId":"` + info.ARN + `","Plaintext":"aGVsbG8="}`,
		`{"CiphertextBlob":` + string(blob) + `,"DestinationKeyId":"alias/fuzz","SourceEncryptionContext":{"a":"b"}}`,
		`{"KeyId":"` + info.KeyID + `"}`,
		`{"KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY","Tags":[{"TagKey":"a","TagValue":"b"}]}`,
		`{"AliasName":"alias/x","TargetKeyId":"` + info.KeyID + `"}`,
		`{"Limit":1,"Marker":"MQ"}`,
		`{"KeyId":"` + info.KeyID + `","PendingWindowInDays":7}`,
		``, `null`, `[]`, `{"KeyId":5}`, `{"NumberOfBytes":-1,"KeyId":"alias/fuzz"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		op := fuzzOps[int(opIndex)%len(fuzzOps)]
		status, resp := h.dispatch(context.Background(), op, body)
		if status >= 500 {
			t.Fatalf("%s %q: status %d %s", op, body, status, resp)
		}
		if status == 200 {
			if len(resp) > 0 && !json.Valid(resp) {
				t.Fatalf("%s: invalid JSON response %q", op, resp)
			}
			return
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(resp, &e); err != nil || e.Type == "" {
			t.Fatalf("%s: error response %q is not AWS-shaped", op, resp)
		}
	})
}
