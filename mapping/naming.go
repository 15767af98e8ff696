package mapping

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

var _ bridge.AttrNamer = (*Table)(nil)

// MappedFrom implements bridge.AttrNamer: the first row that writes
// dirAttr, by its SCIM attribute as the table spells it and its line.
func (t *Table) MappedFrom(dirAttr string) (scim, where string, ok bool) {
	for _, r := range t.rows {
		if !strings.EqualFold(r.ldap, dirAttr) {
			continue
		}
		where = t.file
		if r.line > 0 {
			where = fmt.Sprintf("%s:%d", t.file, r.line)
		}
		if r.kind == kindOneWay {
			return "", where, true
		}
		return r.scim, where, true
	}
	return "", "", false
}
