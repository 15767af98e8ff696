package embedded

import (
	"testing"

	"github.com/dirbridge/dirbridge/bridge/conformance"
)

// TestEmbeddedConformance runs the Directory contract's suite against the
// embedded directory: one fresh directory per subtest.
func TestEmbeddedConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Env {
		// The suite compares timestamps with the wall clock.
		opts := testOptions(t, t.TempDir())
		opts.Clock = nil
		e, err := OpenEmbedded(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		if err := e.EnsureContainer(t.Context(), "ou=leavers,dc=example,dc=com"); err != nil {
			t.Fatal(err)
		}
		return conformance.Env{
			Dir:     e,
			Auth:    e,
			BaseDN:  e.Suffix(),
			People:  "ou=people," + e.Suffix(),
			Leavers: "ou=leavers," + e.Suffix(),
		}
	})
}
