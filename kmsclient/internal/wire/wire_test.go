package wire

import (
	"encoding/json"
	"testing"
	"time"
)

func TestErrorCode(t *testing.T) {
	cases := []struct {
		header, body, code, msg string
	}{
		{"", `{"__type":"NotFoundException","message":"gone"}`, "NotFoundException", "gone"},
		{"", `{"__type":"com.amazonaws.kms#DisabledException","Message":"off"}`, "DisabledException", "off"},
		{"", `{"__type":"aws.protocoltests#ThrottlingException:http://internal.amazon.com/"}`, "ThrottlingException", ""},
		{"KMSInternalException:http://x", `{"__type":"NotFoundException"}`, "KMSInternalException", ""},
		{"", `{"code":"ValidationException","message":"m"}`, "ValidationException", "m"},
		{"", `not json`, "", ""},
		{"", ``, "", ""},
	}
	for _, c := range cases {
		code, msg := ErrorCode(c.header, []byte(c.body))
		if code != c.code || msg != c.msg {
			t.Errorf("ErrorCode(%q, %q) = %q, %q; want %q, %q", c.header, c.body, code, msg, c.code, c.msg)
		}
	}
}

func TestEpochTime(t *testing.T) {
	in := EpochTime{time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.UTC)}
	b, err := json.Marshal(in)
	if err != nil || string(b) != "1767323045.25" {
		t.Fatalf("%s %v", b, err)
	}
	var out EpochTime
	if err := json.Unmarshal(b, &out); err != nil || !out.Equal(in.Time) {
		t.Fatalf("%v %v", out, err)
	}
	for _, bad := range []string{`"2026"`, `1e300`, `NaN`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzErrorCode(f *testing.F) {
	f.Add("", []byte(`{"__type":"com.amazonaws.kms#NotFoundException:x","message":"m"}`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		code, _ := ErrorCode(header, body)
		for i := 0; i < len(code); i++ {
			if code[i] == ':' || code[i] == '#' {
				t.Fatalf("unsanitised code %q", code)
			}
		}
	})
}

func FuzzEpochTime(f *testing.F) {
	f.Add([]byte("1767323045.25"))
	f.Add([]byte("-1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e EpochTime
		if err := json.Unmarshal(b, &e); err != nil {
			return
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	})
}
