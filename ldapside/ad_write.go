package ldapside

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// addInSteps creates an entry whose password is an attribute written by a
// modify (AD's unicodePwd), in the order AD requires:
//
//  1. add the entry disabled (userAccountControl with bit 0x2 set, the
//     other bits as the request gives them, NORMAL_ACCOUNT by default), so
//     that it can never bind before it has its password;
//  2. set the password (admin reset), with its fingerprint;
//  3. enable it (bit 0x2 cleared) unless the request wants it disabled, and
//     write the deferred attributes (pwdLastSet = 0 must follow the
//     password, which stamps pwdLastSet itself).
//
// When any step after the add fails (a password the domain's policy
// refuses, most often), the entry is deleted again: nothing half-made stays.
// A password is refused before anything is written when the connection is
// not encrypted.
func (c *Conn) addInSteps(ctx context.Context, req bridge.AddRequest, ap attrPasswords, names []string) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Add"
	ar := ldap.NewAddRequest(req.DN, nil)
	uac := int64(uacNormalAccount)
	var later []ldap.Change
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
		if slices.ContainsFunc(ap.deferredAttrs(), func(d string) bool { return strings.EqualFold(d, n) }) {
			later = append(later, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: n, Vals: slices.Clone(vals)}})
			continue
		}
		ar.Attribute(n, slices.Clone(vals))
	}
	ar.Attribute(attrUAC, []string{strconv.FormatInt(uac|uacAccountDisable, 10)})
	if !req.Disabled {
		enable := ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUAC, Vals: []string{strconv.FormatInt(uac&^uacAccountDisable, 10)}}}
		later = append([]ldap.Change{enable}, later...)
	}
	return c.runAdd(ctx, op, req, names, func(pc *pconn, added func()) error {
		if req.Password != "" && !pc.secure {
			return c.cleartextRefused(op, req.DN)
		}
		if err := pc.l.Add(ar); err != nil {
			return err
		}
		added()
		if req.Password != "" {
			e, err := c.findOne(pc, req.DN, ldap.ScopeBaseObject, filterAll, []string{c.d.idAttr()})
			if err != nil {
				return err
			}
			if err := c.setPassword(pc, req.DN, e.GetEqualFoldRawAttributeValue(c.d.idAttr()), req.Password); err != nil {
				return err
			}
		}
		if len(later) > 0 {
			m := ldap.NewModifyRequest(req.DN, nil)
			m.Changes = later
			if err := pc.l.Modify(m); err != nil {
				return err
			}
		}
		return nil
	})
}

// isAccount reports whether an entry to add is a security principal that
// can log on (AD's user class and its subclasses): those get the steps of
// addInSteps and userAccountControl. Other objects (groups, contacts, OUs)
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

// advise logs, once, what an operator can do about a failure that is the
// deployment's to fix rather than the client's: a missing container, the
// service account's missing rights, an operation the directory refuses.
// The client gets a generic 500 for these; this line says what to change.
func (c *Conn) advise(what, dn, newParent string, err error) {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return
	}
	code := adExtendedCode(le.Err)
	switch {
	case le.ResultCode == ldap.LDAPResultNoSuchObject && (what == "add" || newParent != "") ||
		code == "00002030" || code == "00002095" || code == "0000208D" && what == "add":
		parent := newParent
		if parent == "" {
			if d, perr := parseDN(dn); perr == nil && len(d.RDNs) > 1 {
				parent = (&ldap.DN{RDNs: d.RDNs[1:]}).String()
			}
		}
		c.log.Error("the container does not exist: create it in the directory, or set create_missing_containers = true in the mapping table",
			"container", parent, "dn", dn, "error", err)
	case le.ResultCode == ldap.LDAPResultInsufficientAccessRights || code == "00000005":
		c.log.Error("the service account lacks the rights for this "+what+": delegate create/modify/reset password on the container to it",
			"bind_dn", c.cfg.BindDN, "dn", dn, "error", err)
	case le.ResultCode == ldap.LDAPResultUnwillingToPerform || code == "0000001F" || code == "00002077":
		c.log.Error("the directory is unwilling to perform this "+what+" (for a password: is the connection encrypted, is the account allowed a password?)",
			"dn", dn, "error", err)
	}
}
