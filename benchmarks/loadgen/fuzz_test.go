package loadgen

import "testing"

func FuzzParseListPage(f *testing.F) {
	f.Add([]byte(`<ListBucketResult><Contents><Key>a</Key></Contents><IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken></ListBucketResult>`))
	f.Add([]byte(`<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>`))
	f.Add([]byte(`<x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, next, err := parseListPage(b)
		if err != nil && (n != 0 || next != "") {
			t.Fatal("error with a result")
		}
		if n < 0 {
			t.Fatal("negative count")
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4KiB", "16MiB", "1g", "123", "", "99999999999GiB", "-1", "5GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 || n > MaxObjectSize {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if m, err := ParseSize(FormatSize(n)); err != nil || m != n {
			t.Fatalf("round trip of %d: %d %v", n, m, err)
		}
	})
}
