package ldapside

import (
	"errors"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// lifecycleRefusal recognises the directory refusing the attribute that
// holds the disabled state: the users table's [lifecycle] does not fit the
// directory (ppolicy's pwdAccountLockedTime on a slapd without the ppolicy
// overlay; nsAccountLock without an object class that allows it). That is
// never the client's doing, whatever it sent: the answer is a 500 and the
// log line (written once, by scimside) says what to change in the table. It
// returns nil for any other error.
func (c *Conn) lifecycleRefusal(op, what, dn string, err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return nil
	}
	attr, ok := c.d.virtualAttr(bridge.VirtualDisabled)
	if !ok || !strings.EqualFold(attrInDiag(le.Err), attr) {
		return nil
	}
	var fix string
	switch le.ResultCode {
	case ldap.LDAPResultUndefinedAttributeType:
		if strings.EqualFold(attr, attrLockedTime) {
			fix = "the directory has no " + attr + ": load slapd's ppolicy overlay, or choose another way to disable accounts in the users table's [lifecycle] (disable = \"attribute\")"
		} else {
			fix = "the directory's schema has no " + attr + ": add it, or name another attribute in the users table's [lifecycle]"
		}
	case ldap.LDAPResultObjectClassViolation:
		fix = "no object class of the entry allows " + attr + ": add one that does to the users table's object_classes, or name another attribute in [lifecycle]"
	default:
		return nil
	}
	out := translateIn(op, &writeOp{what: what, dn: dn, bindDN: c.cfg.BindDN}, err)
	var be *bridge.Error
	if errors.As(out, &be) {
		be.Kind, be.Fix = bridge.KindMisconfigured, fix
	}
	return out
}
