package mapping

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// Preview returns, as LDIF (RFC 2849), the entry NewEntry would create for
// r, without touching a directory. r may be a client's body: it is
// normalized first. References cannot be resolved without a directory, so
// they appear as comments naming the id.
func (t *Table) Preview(r bridge.Resource) (string, error) {
	const op = "mapping.(*Table).Preview"
	attrs, err := bridge.Normalize(t.rt, r.Attrs)
	if err != nil {
		return "", bridge.Wrap(op, err)
	}
	pr := &previewRefs{}
	plan, err := t.NewEntry(context.Background(), bridge.Resource{Attrs: attrs}, pr)
	if err != nil {
		return "", bridge.Wrap(op, err)
	}
	var b strings.Builder
	ldifLine(&b, "dn", plan.DN)
	keys := make([]string, 0, len(plan.Attrs))
	for k := range plan.Attrs {
		if !strings.EqualFold(k, "objectClass") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = append([]string{"objectClass"}, keys...)
	for _, k := range keys {
		for _, v := range plan.Attrs[k] {
			if id, ok := pr.ids[v]; ok {
				fmt.Fprintf(&b, "# %s: the DN of %s\n", k, id)
				continue
			}
			ldifLine(&b, k, v)
		}
	}
	return b.String(), nil
}

// previewRefs resolves every id to a marker that Preview turns into a
// comment.
type previewRefs struct{ ids map[string]string }

func (p *previewRefs) DNForID(_ context.Context, typ, id string) (string, error) {
	if p.ids == nil {
		p.ids = map[string]string{}
	}
	m := fmt.Sprintf("\x00ref%d", len(p.ids))
	p.ids[m] = fmt.Sprintf("%s %q", typ, id)
	return m, nil
}

func (p *previewRefs) IDForDN(context.Context, string) (string, string, error) {
	return "", "", bridge.Errorf("mapping.previewRefs.IDForDN", bridge.KindNotFound, "no directory in a preview")
}

// ldifLine writes "attr: value", or "attr:: base64" when RFC 2849 does not
// allow the value as it is.
func ldifLine(b *strings.Builder, attr, v string) {
	if ldifSafe(v) {
		fmt.Fprintf(b, "%s: %s\n", attr, v)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(v)))
}

func ldifSafe(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' || !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}
