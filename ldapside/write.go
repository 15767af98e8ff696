package ldapside

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

const attrUserPassword = "userPassword"

// cleanupTimeout bounds the undo steps that run after the request's own
// context has ended.
const cleanupTimeout = 30 * time.Second

// checkAttrs refuses attribute names that are not attribute descriptions
// and passwords passed as attributes (they would bypass Password Modify or
// the AD password steps).
func checkAttrs(op string, d dialect, names []string) error {
	for _, n := range names {
		if !bridge.ValidAttrDescription(n) {
			return bridge.Errorf(op, bridge.KindInvalidValue, "an attribute name is not valid")
		}
		if strings.EqualFold(n, attrUserPassword) || d.secretAttr(n) {
			return bridge.Errorf(op, bridge.KindInvalidValue, "the password is set as the password, not as an attribute")
		}
	}
	return nil
}

// errCleartextPassword: a password is never sent on a connection that is
// not encrypted, even where the server would take it (Samba does).
var errCleartextPassword = errors.New("refusing to send a password over an unencrypted LDAP connection")

// setPassword sets dn's password as the service account: with the Password
// Modify extended operation (RFC 3062) where the server offers it, so that
// the server hashes it by its own policy; in AD as an admin reset of
// unicodePwd (rawID is the entry's objectGUID, for the fingerprint).
func (c *Conn) setPassword(pc *pconn, dn string, rawID []byte, password string) error {
	const op = "ldapside.(*Conn).setPassword"
	var err error
	if ap, ok := c.d.(attrPasswords); ok {
		if !pc.secure {
			return c.cleartextRefused(op, dn)
		}
		m := ldap.NewModifyRequest(dn, nil)
		m.Changes = ap.passwordChanges(rawID, password)
		err = pc.l.Modify(m)
	} else if pc.caps.passwordModify {
		_, err = pc.l.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", password))
	} else {
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace(attrUserPassword, []string{password})
		err = pc.l.Modify(m)
	}
	if err == nil {
		return nil
	}
	if t := translate(op, err); bridge.KindOf(t) == bridge.KindInvalidValue {
		msg := "the directory's password policy refused the password"
		if _, ok := c.d.(attrPasswords); ok {
			msg = "the password does not meet the domain's policy"
		}
		return bridge.E(op, bridge.KindInvalidValue, msg, err)
	}
	return err
}

func (c *Conn) cleartextRefused(op, dn string) error {
	c.log.Error("refusing to send a password over an unencrypted connection: use an ldaps:// URL or set start_tls = true (with ca_file)",
		"dn", dn, "urls", c.cfg.URLs)
	return bridge.E(op, bridge.KindInternal, "", errCleartextPassword)
}

// Add creates the entry in ONE add operation: the lock of a disabled account
// and the password's hash travel with it. A password set by a second
// operation (Password Modify) would leave a window in which a failure - the
// directory restarting, say - strands an account without its password that
// no undo can reach while the directory is down; one add is all or nothing.
// Password changes later go through Password Modify (see Modify).
func (c *Conn) Add(ctx context.Context, req bridge.AddRequest) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Add"
	if _, err := parseDN(req.DN); err != nil {
		return nil, bridge.E(op, bridge.KindInvalidValue, "the entry's name is not a valid DN", err)
	}
	names := make([]string, 0, len(req.Attrs))
	for n := range req.Attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := checkAttrs(op, c.d, names); err != nil {
		return nil, err
	}
	if ap, ok := c.d.(attrPasswords); ok && isAccount(req.Attrs) {
		return c.addInSteps(ctx, req, ap, names)
	}
	ar := ldap.NewAddRequest(req.DN, nil)
	for _, n := range names {
		if vals := req.Attrs[n]; len(vals) > 0 {
			ar.Attribute(n, append([]string(nil), vals...))
		}
	}
	if req.Disabled {
		a := c.d.addDisabled()
		ar.Attribute(a.Type, a.Vals)
	}
	if req.Password != "" {
		h, err := c.d.lockedPassword(req.Password)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInternal, "", err)
		}
		ar.Attribute(attrUserPassword, []string{h})
	}
	return c.runAdd(ctx, op, req, names, func(pc *pconn, added func()) error {
		if err := pc.l.Add(ar); err != nil {
			return err
		}
		added()
		return nil
	})
}

// runAdd runs steps (the add and whatever completes it) on one connection,
// reads the new entry back, and deletes it again when anything after the add
// failed, so that every dialect's add is all or nothing. steps calls added
// once the entry exists.
func (c *Conn) runAdd(ctx context.Context, op string, req bridge.AddRequest, names []string, steps func(pc *pconn, added func()) error) (*bridge.Entry, error) {
	var out *bridge.Entry
	added := false
	err := c.with(ctx, nil, func(pc *pconn) error {
		if err := steps(pc, func() { added = true }); err != nil {
			return err
		}
		e, err := c.findOne(pc, req.DN, ldap.ScopeBaseObject, filterAll, c.wantAttrs(req.Return))
		if err != nil {
			return err
		}
		out, err = c.entry(pc, e, req.Return)
		return err
	})
	if err != nil && added {
		c.undo(ctx, "add", req.DN, func(pc *pconn) error { return pc.l.Del(ldap.NewDelRequest(req.DN, nil)) })
	}
	if err != nil {
		c.advise("add", req.DN, "", err)
		return nil, translate(op, err)
	}
	c.noteWrite(out)
	c.log.Debug("entry added", "dn", req.DN, "id", out.ID, "attrs", names, "password_set", req.Password != "", "disabled", req.Disabled)
	return out, nil
}

// undo runs a compensating step on a connection of its own, also when the
// request's context has ended, and logs when it fails: then the directory
// holds what the failed request half made.
func (c *Conn) undo(ctx context.Context, what, dn string, fn func(pc *pconn) error) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.with(uctx, nil, fn); err != nil {
		c.log.Error("cannot undo a partly applied change", "step", what, "dn", dn, "error", err)
	}
}

// Delete removes the entry with the given id.
func (c *Conn) Delete(ctx context.Context, id string) error {
	const op = "ldapside.(*Conn).Delete"
	if !c.d.validID(id) {
		return bridge.Errorf(op, bridge.KindNotFound, "")
	}
	var dn string
	err := c.with(ctx, nil, func(pc *pconn) error {
		e, err := c.findByID(pc, "", id, []string{"1.1"})
		if err != nil {
			return err
		}
		dn = e.DN
		return pc.l.Del(ldap.NewDelRequest(e.DN, nil))
	})
	if err != nil {
		return translate(op, err)
	}
	c.log.Debug("entry deleted", "dn", dn, "id", id)
	return nil
}

// EnsureContainer creates the organizational unit dn and its missing
// parents below BaseDN, parents first. Units that already exist, also ones
// another request creates at the same moment, are not an error.
func (c *Conn) EnsureContainer(ctx context.Context, dn string) error {
	const op = "ldapside.(*Conn).EnsureContainer"
	d, err := parseDN(dn)
	if err != nil {
		return bridge.E(op, bridge.KindInvalidValue, "the container's name is not a valid DN", err)
	}
	if !c.baseDN.EqualFold(d) && !c.baseDN.AncestorOfFold(d) {
		return bridge.Errorf(op, bridge.KindInvalidValue, "the container is not below the directory's base")
	}
	missing := len(d.RDNs) - len(c.baseDN.RDNs)
	for i := 0; i < missing; i++ {
		rdn := d.RDNs[i]
		if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "ou") {
			return bridge.Errorf(op, bridge.KindInvalidValue, "a container to create must be named ou=...")
		}
	}
	err = c.with(ctx, nil, func(pc *pconn) error {
		if _, err := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, []string{"1.1"}); err == nil {
			return nil
		} else if bridge.KindOf(err) != bridge.KindNotFound {
			return err
		}
		for i := missing - 1; i >= 0; i-- {
			sub := &ldap.DN{RDNs: d.RDNs[i:]}
			ar := ldap.NewAddRequest(sub.String(), nil)
			ar.Attribute("objectClass", []string{"top", "organizationalUnit"})
			ar.Attribute("ou", []string{d.RDNs[i].Attributes[0].Value})
			err := pc.l.Add(ar)
			var le *ldap.Error
			if err != nil && !(errors.As(err, &le) && le.ResultCode == ldap.LDAPResultEntryAlreadyExists) {
				return err
			}
			if err == nil {
				c.log.Info("container added", "dn", sub.String())
			}
		}
		return nil
	})
	return translate(op, err)
}

// valueSet is an attribute's values while a Modify is planned.
type valueSet map[string][]string // lower-cased attribute name -> values

func (v valueSet) get(attr string) []string { return v[strings.ToLower(attr)] }
func (v valueSet) set(attr string, vals []string) {
	v[strings.ToLower(attr)] = vals
}

func containsFold(vals []string, s string) (string, bool) {
	for _, v := range vals {
		if strings.EqualFold(v, s) {
			return v, true
		}
	}
	return "", false
}

// sameValues compares exactly, ignoring order: a replace that changes only
// the case of a value is a change.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// planChanges turns the requested changes into the modifications that
// actually change something, given the current values in cur (updated as
// the plan goes). Values are matched case-insensitively for add and delete,
// as the equality rules of nearly all directory attributes do; an add of a
// present value and a delete of an absent one drop out.
func planChanges(changes []bridge.Change, cur valueSet) []ldap.Change {
	var out []ldap.Change
	for _, ch := range changes {
		have := cur.get(ch.Attr)
		switch ch.Op {
		case bridge.ChangeAdd:
			var add []string
			for _, v := range ch.Values {
				if _, ok := containsFold(have, v); ok {
					continue
				}
				if _, ok := containsFold(add, v); ok {
					continue
				}
				add = append(add, v)
			}
			if len(add) == 0 {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: add}})
			cur.set(ch.Attr, append(slices.Clone(have), add...))
		case bridge.ChangeDelete:
			if len(ch.Values) == 0 {
				if len(have) == 0 {
					continue
				}
				out = append(out, ldap.Change{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: []string{}}})
				cur.set(ch.Attr, nil)
				continue
			}
			var del []string
			rest := slices.Clone(have)
			for _, v := range ch.Values {
				if stored, ok := containsFold(rest, v); ok {
					del = append(del, stored)
					rest = slices.DeleteFunc(rest, func(x string) bool { return x == stored })
				}
			}
			if len(del) == 0 {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: del}})
			cur.set(ch.Attr, rest)
		case bridge.ChangeReplace:
			if sameValues(have, ch.Values) {
				continue
			}
			out = append(out, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: ch.Attr, Vals: append([]string{}, ch.Values...)}})
			cur.set(ch.Attr, slices.Clone(ch.Values))
		}
	}
	return out
}

// Modify applies req in the order the contract gives: rename or move, the
// attribute changes in one modify operation, the password, the disabled
// state. It writes nothing when nothing would change. When a step fails, the
// steps before it are undone: attributes get their old values back, the
// stored password hash is put back, the entry is renamed back.
func (c *Conn) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Modify"
	if !c.d.validID(req.ID) {
		return nil, bridge.Errorf(op, bridge.KindNotFound, "")
	}
	var read []string
	for _, ch := range req.Changes {
		if ch.Op < bridge.ChangeAdd || ch.Op > bridge.ChangeReplace {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "unknown change operation")
		}
		read = append(read, ch.Attr)
	}
	if err := checkAttrs(op, c.d, read); err != nil {
		return nil, err
	}
	if req.Password != nil && *req.Password == "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the password must not be empty")
	}
	var newRDN *ldap.DN
	if req.NewRDN != "" {
		d, err := parseDN(req.NewRDN)
		if err != nil || len(d.RDNs) != 1 {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the new name is not a valid RDN")
		}
		newRDN = d
	}
	if req.NewSuperior != "" {
		if _, err := parseDN(req.NewSuperior); err != nil {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the new parent is not a valid DN")
		}
	}
	if newRDN != nil {
		for _, a := range newRDN.RDNs[0].Attributes {
			read = append(read, a.Type)
		}
	}
	if req.Password != nil {
		read = append(read, c.d.passwordReadAttrs()...)
	}
	read = append(read, c.d.operationalAttrs()...)
	if len(read) == len(c.d.operationalAttrs()) {
		read = append(read, "1.1")
	}
	partial := c.valueLevel(req.Changes, newRDN != nil)

	var out *bridge.Entry
	var undos []func(pc *pconn) error // newest last
	var dn string
	err := c.with(ctx, nil, func(pc *pconn) error {
		if !pc.caps.matchedValues {
			partial = nil // read the whole attributes, as before
		}
		if got, done, err := c.modifyCurrent(pc, req, partial); done || err != nil {
			out, dn = got, req.Current.DN
			return err
		}
		e, err := c.findByID(pc, req.Base, req.ID, withoutAttrs(read, partial))
		if err != nil {
			return err
		}
		dn = e.DN
		cur := valueSet{}
		for _, a := range e.Attributes {
			if _, p := partial[strings.ToLower(a.Name)]; !p {
				cur.set(a.Name, a.Values)
			}
		}
		if len(partial) > 0 {
			// Only which of the given values are present matters to
			// the plan: read those, not the whole attribute.
			present, err := c.presentValues(pc, dn, partial)
			if err != nil {
				return err
			}
			for a, v := range present {
				cur.set(a, v)
			}
		}
		before := valueSet{}
		for k, v := range cur {
			before[k] = slices.Clone(v)
		}
		var was bridge.Entry
		c.d.fill(&was, e)

		// Plan the rename.
		curDN, err := parseDN(e.DN)
		if err != nil {
			return err
		}
		targetRDN, targetParent := curDN.RDNs[0], &ldap.DN{RDNs: curDN.RDNs[1:]}
		if newRDN != nil {
			targetRDN = newRDN.RDNs[0]
		}
		if req.NewSuperior != "" {
			targetParent, _ = parseDN(req.NewSuperior)
		}
		target := &ldap.DN{RDNs: append([]*ldap.RelativeDN{targetRDN}, targetParent.RDNs...)}
		rename := !target.EqualFold(curDN)
		if rename {
			// After the rename the old RDN values are gone and the new
			// ones present: plan the attribute changes on that state.
			for _, a := range curDN.RDNs[0].Attributes {
				cur.set(a.Type, slices.DeleteFunc(slices.Clone(cur.get(a.Type)), func(x string) bool { return strings.EqualFold(x, a.Value) }))
			}
			for _, a := range targetRDN.Attributes {
				if _, ok := containsFold(cur.get(a.Type), a.Value); !ok {
					cur.set(a.Type, append(slices.Clone(cur.get(a.Type)), a.Value))
				}
			}
		}
		mods := planChanges(req.Changes, cur)
		setPw := req.Password != nil && !c.d.samePassword(e, *req.Password)
		changeDisabled := req.Disabled != nil && *req.Disabled != was.Disabled

		if rename {
			// deleteoldrdn: the contract says the old RDN value goes.
			newParent := ""
			if req.NewSuperior != "" {
				newParent = targetParent.String()
			}
			if err := pc.l.ModifyDN(ldap.NewModifyDNRequest(e.DN, targetRDN.String(), true, newParent)); err != nil {
				return err
			}
			oldRDN, oldParent := curDN.RDNs[0].String(), (&ldap.DN{RDNs: curDN.RDNs[1:]}).String()
			newDN := target.String()
			// Renaming back removes the new RDN value too, unless the
			// entry had it before the rename.
			keepNew := true
			for _, a := range targetRDN.Attributes {
				if _, ok := containsFold(before.get(a.Type), a.Value); !ok {
					keepNew = false
				}
			}
			undos = append(undos, func(pc *pconn) error {
				sup := ""
				if req.NewSuperior != "" {
					sup = oldParent
				}
				return pc.l.ModifyDN(ldap.NewModifyDNRequest(newDN, oldRDN, !keepNew, sup))
			})
			dn = newDN
		}
		if len(mods) > 0 {
			if err := c.modifyIdempotent(pc, dn, mods, req.Changes); err != nil {
				return err
			}
			rdnTypes := targetRDN.Attributes
			undos = append(undos, func(pc *pconn) error {
				m := ldap.NewModifyRequest(dn, nil)
				seen := map[string]bool{}
				for i := len(mods) - 1; i >= 0; i-- {
					ch := mods[i]
					t := strings.ToLower(ch.Modification.Type)
					if _, p := partial[t]; p {
						// Only some values were read: undo the
						// values written, not the attribute.
						vals := append([]string{}, ch.Modification.Vals...)
						if ch.Operation == ldap.AddAttribute {
							m.Delete(ch.Modification.Type, vals)
						} else {
							m.Add(ch.Modification.Type, vals)
						}
						continue
					}
					if seen[t] || slices.ContainsFunc(rdnTypes, func(a *ldap.AttributeTypeAndValue) bool { return strings.EqualFold(a.Type, t) }) {
						continue // the rename back restores the naming attribute
					}
					seen[t] = true
					m.Replace(ch.Modification.Type, append([]string{}, before.get(t)...))
				}
				if len(m.Changes) == 0 {
					return nil
				}
				return pc.l.Modify(m)
			})
		}
		if setPw {
			staysDisabled := was.Disabled && (req.Disabled == nil || *req.Disabled)
			if staysDisabled && c.d.passwordResetUnlocks() {
				// Password Modify would unlock the account: write the
				// hash and the lock in one operation instead.
				changes, err := c.d.lockedPasswordChanges(*req.Password)
				if err != nil {
					return err
				}
				m := ldap.NewModifyRequest(dn, nil)
				m.Changes = changes
				if err := pc.l.Modify(m); err != nil {
					return err
				}
			} else if err := c.setPassword(pc, dn, e.GetEqualFoldRawAttributeValue(c.d.idAttr()), *req.Password); err != nil {
				return err
			}
			if old := before.get(attrUserPassword); len(old) > 0 {
				undos = append(undos, func(pc *pconn) error {
					m := ldap.NewModifyRequest(dn, nil)
					m.Replace(attrUserPassword, old) // the stored hashes, as they were
					return pc.l.Modify(m)
				})
			}
		}
		if changeDisabled {
			m := ldap.NewModifyRequest(dn, nil)
			if *req.Disabled {
				m.Changes = append(m.Changes, c.d.disableChange(e))
			} else {
				m.Changes = append(m.Changes, c.d.enableChange(e))
			}
			if err := pc.l.Modify(m); err != nil {
				return err
			}
		}
		got, err := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, c.wantAttrs(req.Return))
		if err != nil {
			return err
		}
		if out, err = c.entry(pc, got, req.Return); err != nil {
			return err
		}
		if rename || len(mods) > 0 || setPw || changeDisabled {
			names := make([]string, 0, len(mods))
			for _, m := range mods {
				names = append(names, m.Modification.Type)
			}
			c.log.Debug("entry modified", "dn", dn, "id", req.ID, "renamed", rename, "attrs", names, "password_set", setPw, "disabled_changed", changeDisabled)
		}
		return nil
	})
	if err != nil && len(undos) > 0 {
		c.undo(ctx, "modify", dn, func(pc *pconn) error {
			var errs []error
			for i := len(undos) - 1; i >= 0; i-- {
				errs = append(errs, undos[i](pc))
			}
			return errors.Join(errs...)
		})
	}
	if err != nil {
		c.advise("modify", dn, req.NewSuperior, err)
		return nil, translate(op, err)
	}
	c.noteWrite(out)
	return out, nil
}

// modifyIdempotent sends mods in one modify operation. Adding a present
// value and deleting an absent one must not fail: with the Permissive
// Modify control the server ignores them; without it, a refusal for exactly
// that reason makes us re-read the entry, re-plan and try once more (another
// writer changed the entry between our read and our write).
//
// The retry also runs when the control was sent: Samba 4.17 advertises it
// but still refuses a present value of a linked attribute (member) with
// entryAlreadyExists (68), and a value removed before with
// unwillingToPerform (53, "already deleted"), rather than ignoring them.
// Those codes are only taken for that when the re-read shows nothing left
// to do; otherwise the retry's own answer stands.
func (c *Conn) modifyIdempotent(pc *pconn, dn string, mods []ldap.Change, changes []bridge.Change) error {
	var ctrls []ldap.Control
	if pc.caps.permissive {
		ctrls = append(ctrls, ldap.NewControlString(oidPermissiveModify, false, ""))
	}
	m := ldap.NewModifyRequest(dn, ctrls)
	m.Changes = mods
	err := pc.l.Modify(m)
	var le *ldap.Error
	if err == nil || !errors.As(err, &le) ||
		(le.ResultCode != ldap.LDAPResultAttributeOrValueExists && le.ResultCode != ldap.LDAPResultNoSuchAttribute &&
			le.ResultCode != ldap.LDAPResultEntryAlreadyExists && le.ResultCode != ldap.LDAPResultUnwillingToPerform) {
		return err
	}
	var attrs []string
	for _, ch := range changes {
		attrs = append(attrs, ch.Attr)
	}
	e, rerr := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, attrs)
	if rerr != nil {
		return err
	}
	cur := valueSet{}
	for _, a := range e.Attributes {
		cur.set(a.Name, a.Values)
	}
	again := planChanges(changes, cur)
	if len(again) == 0 {
		return nil
	}
	m = ldap.NewModifyRequest(dn, ctrls)
	m.Changes = again
	return pc.l.Modify(m)
}

// valueLevel returns the attributes (lower-cased, with the values named)
// whose changes in req are all adds or deletes of given values: planning
// those needs only to know which of the values are present, not the whole
// attribute (see presentValues). A replace, a delete of the whole attribute
// or a rename (which changes the naming attribute's values) needs the
// whole attribute. OpenLDAP only: AD keeps its path of ranged reads.
func (c *Conn) valueLevel(changes []bridge.Change, rename bool) map[string][]string {
	if _, ad := c.d.(activeDirectory); ad || rename {
		return nil
	}
	out := map[string][]string{}
	whole := map[string]bool{}
	for _, ch := range changes {
		a := strings.ToLower(ch.Attr)
		if ch.Op == bridge.ChangeReplace || len(ch.Values) == 0 {
			whole[a] = true
			continue
		}
		out[a] = append(out[a], ch.Values...)
	}
	for a := range whole {
		delete(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// withoutAttrs returns read without the attributes of skip.
func withoutAttrs(read []string, skip map[string][]string) []string {
	if len(skip) == 0 {
		return read
	}
	out := make([]string, 0, len(read))
	for _, a := range read {
		if _, s := skip[strings.ToLower(a)]; !s {
			out = append(out, a)
		}
	}
	return out
}
