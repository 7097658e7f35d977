package kmsclient

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the architecture's arrows: kmsclient (and its
// subpackages) depend on the standard library, internal/sigv4 and their own
// internal packages only; internal/sigv4 on the standard library only.
// The one exception is github.com/miekg/pkcs11, which only builds with
// -tags pkcs11 (go list sees it when GOFLAGS carries the tag).
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	allowed := map[string][]string{
		"github.com/cofferdb/coffer/kmsclient":           {"github.com/cofferdb/coffer/internal/sigv4", "github.com/cofferdb/coffer/kmsclient/internal/wire", "github.com/miekg/pkcs11"},
		"github.com/cofferdb/coffer/kmsclient/kmsserver": {"github.com/cofferdb/coffer/kmsclient", "github.com/cofferdb/coffer/internal/sigv4", "github.com/cofferdb/coffer/kmsclient/internal/wire", "github.com/miekg/pkcs11"},
		"github.com/cofferdb/coffer/internal/sigv4":      nil,
	}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			found := false
			for _, a := range ok {
				found = found || dep == a
			}
			if !found {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
