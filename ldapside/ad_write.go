package ldapside

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// addAccount creates an AD account in ONE add operation: the password
// (unicodePwd, with its fingerprint), the final userAccountControl (bit 0x2
// as the request wants it, the other bits as the request gives them,
// NORMAL_ACCOUNT by default) and every other attribute, pwdLastSet included.
// An add is atomic, so a password the domain's policy refuses (0000052D)
// creates nothing, and there is no moment at which the account exists
// without its password or enabled before it has one: nothing to undo.
//
// Checked on Samba 4.17 (TestADCreateIsOneAdd): it takes unicodePwd in an
// add over LDAPS, and keeps a pwdLastSet of 0 ("must change at next logon")
// sent in the same add, where a password set by a later modify would stamp
// it. Windows AD is documented to take unicodePwd in an add over an
// encrypted connection too; that is not tested here. This replaces the
// three steps (add disabled, reset the password, enable) dirbridge took
// before, whose failures in between had to be undone by deleting the entry.
// A password is refused before anything is written when the connection is
// not encrypted.
func (c *Conn) addAccount(ctx context.Context, req bridge.AddRequest, ap attrPasswords, names []string) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Add"
	ar := ldap.NewAddRequest(req.DN, nil)
	uac := int64(uacNormalAccount)
	for _, n := range names {
		vals := req.Attrs[n]
		if len(vals) == 0 {
			continue
		}
		if strings.EqualFold(n, attrUAC) {
			v, err := strconv.ParseInt(strings.TrimSpace(vals[0]), 10, 64)
			if err != nil || len(vals) != 1 {
				return nil, bridge.Errorf(op, bridge.KindInvalidValue, "a value of attribute %q does not have the syntax the directory schema requires", attrUAC)
			}
			uac = v
			continue
		}
		ar.Attribute(n, slices.Clone(vals))
	}
	uac &^= uacAccountDisable
	if req.Disabled {
		uac |= uacAccountDisable
	}
	ar.Attribute(attrUAC, []string{strconv.FormatInt(uac, 10)})
	if req.Password != "" {
		for _, a := range ap.passwordAttrs(req.Password) {
			ar.Attribute(a.Type, a.Vals)
		}
	}
	return c.runAdd(ctx, op, req, names, func(pc *pconn, added func()) error {
		if req.Password != "" && !pc.secure {
			return c.cleartextRefused(op, req.DN)
		}
		if err := pc.l.Add(ar); err != nil {
			return err
		}
		added()
		return nil
	})
}

// isAccount reports whether an entry to add is a security principal that
// can log on (AD's user class and its subclasses): those get the password
// and userAccountControl of addAccount. Other objects (groups, contacts, OUs)
// have no userAccountControl and are added as they are.
func isAccount(attrs map[string][]string) bool {
	for k, vals := range attrs {
		if !strings.EqualFold(k, "objectClass") {
			continue
		}
		for _, v := range vals {
			switch strings.ToLower(v) {
			case "user", "inetorgperson", "computer":
				return true
			}
		}
	}
	return false
}
