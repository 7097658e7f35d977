package lint

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cofferdb/coffer"

// rules lists, per package tree, the imports ARCHITECTURE.md forbids.
// A forbidden entry ending in "/" forbids the whole subtree.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"crypto", []string{mod + "/", "github.com/cockroachdb/", "github.com/klauspost/reedsolomon", "github.com/valyala/fasthttp"}},
	{"erasure", []string{mod + "/", "github.com/cockroachdb/", "github.com/valyala/fasthttp"}},
	{"kmsclient", []string{mod + "/engine", mod + "/crypto", mod + "/erasure", mod + "/s3facade", mod + "/cmd/", "github.com/cockroachdb/", "github.com/valyala/fasthttp"}},
	{"engine", []string{mod + "/s3facade", mod + "/kmsclient", mod + "/cmd/", mod + "/benchmarks", "github.com/valyala/fasthttp"}},
	{"engine/internal/index", []string{mod + "/", "github.com/klauspost/reedsolomon"}},
	{"engine/internal/chunkstore", []string{mod + "/engine", mod + "/crypto", mod + "/kmsclient", mod + "/s3facade"}},
	{"s3facade", []string{mod + "/crypto", mod + "/erasure", mod + "/kmsclient", mod + "/engine/internal/", mod + "/cmd/", mod + "/benchmarks", "github.com/cockroachdb/pebble/v2"}},
}

// allowedInside lists the project packages a tree may import despite a
// forbidden subtree rule (its own leaves).
var allowedInside = map[string][]string{
	"engine/internal/chunkstore": {mod + "/erasure"},
	"kmsclient":                  {mod + "/internal/sigv4"},
	"s3facade":                   {mod + "/internal/sigv4"},
}

func TestImportArrows(t *testing.T) {
	for _, r := range rules {
		// Direct imports of every package of the tree: the arrows are
		// about what a layer uses itself; what its imports use is checked
		// by their own rules.
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+r.pkg+"/...").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") || strings.Contains(string(out), "directory not found") {
				continue // not written yet
			}
			t.Fatalf("go list %s: %v\n%s", r.pkg, err, out)
		}
		self := mod + "/" + r.pkg
	deps:
		for _, dep := range strings.Fields(string(out)) {
			if dep == self || strings.HasPrefix(dep, self+"/") || !strings.Contains(dep, ".") {
				continue // itself, or the standard library
			}
			for _, ok := range allowedInside[r.pkg] {
				if dep == ok || strings.HasPrefix(dep, ok+"/") {
					continue deps
				}
			}
			for _, bad := range r.forbidden {
				if dep == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad)) || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s imports %s: ARCHITECTURE.md says arrows point down", r.pkg, dep)
				}
			}
		}
	}
}

// TestNothingImportsTopLayers checks that no package imports s3facade,
// cmd/... or benchmarks, except cmd importing s3facade and the benchmarks
// importing anything.
func TestNothingImportsTopLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.HasPrefix(pkg, mod+"/benchmarks") {
			continue // benchmarks may import anything
		}
		for _, imp := range strings.Fields(imports) {
			top := strings.HasPrefix(imp, mod+"/cmd/") || strings.HasPrefix(imp, mod+"/benchmarks") ||
				(imp == mod+"/s3facade" && !strings.HasPrefix(pkg, mod+"/cmd/"))
			if top {
				t.Errorf("%s imports %s: nothing imports s3facade, cmd or benchmarks", pkg, imp)
			}
		}
	}
}
