package mapping

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

const aliasTable = `
resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
rdn = "uid={{.userName}}"

[[extension]]
urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
aliases = ["urn:scim:schemas:extension:enterprise:1.0"]

[[extension]]
urn = "urn:example:hr:2.0:User"
aliases = ["urn:okta:hr_app:1.0:user:custom"]

[[attribute]]
scim = "userName"
ldap = "uid"

[[attribute]]
scim = "name.familyName"
ldap = "sn"

[[attribute]]
ldap = "cn"
template = "{{.userName}}"

[[attribute]]
scim = "urn:scim:schemas:extension:enterprise:1.0:department"
ldap = "departmentNumber"

[[attribute]]
scim = "urn:okta:hr_app:1.0:user:custom:costCenter"
ldap = "businessCategory"
`

// A row may name an extension by its SCIM 1.1 alias: it is the same row as
// under the canonical URN, for filters and for the resource type, and the
// other name cannot map the attribute a second time.
func TestExtensionAliasesAreOneSchema(t *testing.T) {
	tb, err := Parse("alias.toml", []byte(aliasTable), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	rt := tb.ResourceType()
	if ext := rt.Extension(bridge.EnterpriseSchema); ext == nil || ext.Attr("department") == nil || len(ext.Aliases) != 1 {
		t.Fatalf("enterprise extension: %+v", ext)
	}
	if ext := rt.Extension("urn:example:hr:2.0:User"); ext == nil || ext.Attr("costCenter") == nil || ext.Aliases[0] != "urn:okta:hr_app:1.0:user:custom" {
		t.Fatalf("custom extension: %+v", ext)
	}
	if got := tb.Aliases(); got["urn:okta:hr_app:1.0:user:custom"] != "urn:example:hr:2.0:User" {
		t.Errorf("Aliases: %v", got)
	}
	for _, path := range []bridge.AttrPath{
		{URN: bridge.EnterpriseSchema, Attr: "department"},
		{URN: "urn:scim:schemas:extension:enterprise:1.0", Attr: "department"},
	} {
		f, err := tb.Filter(context.Background(), &bridge.CompareExpr{Path: path, Op: bridge.OpEq, Value: "R&D"}, newRefs())
		if err != nil || f.String() != "(departmentNumber=R&D)" {
			t.Errorf("filter on %s: %v %v", path, f, err)
		}
	}
	twice := aliasTable + `
[[attribute]]
scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
ldap = "ou"
`
	if _, err := Parse("twice.toml", []byte(twice), withStandard(Options{})); err == nil || !strings.Contains(err.Error(), "already mapped") {
		t.Errorf("department mapped under both names: %v", err)
	}
}
