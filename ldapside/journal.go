package ldapside

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/bridge"
)

// A rename or move with attribute changes is two operations (LDAP has none
// that does both): ModifyDN, then the one modify that carries attributes,
// password and lock. When the modify fails, Modify renames the entry back;
// when that cannot reach the directory either, or the process dies between
// the two, the entry would stay renamed with its old attributes. With a
// journal (Config.Journal) the pair is recorded before the rename and ended
// when it is settled, and recovery settles a pending one by looking at the
// entry: if it holds what the modify writes, the request took full effect
// and is ended; otherwise the rename is undone, so that the request changed
// nothing and the client's retry does it all.
//
// What the modify writes is recorded as the values it leaves (never a
// password: userPassword and AD's unicodePwd are left out). A request
// whose modify changes only the password cannot be told apart and counts
// as done: the name changed, the password maybe not, and the client's
// retry sets it.

const kindRename = "ldapside.rename"

type renameIntent struct {
	OldRDN    string        `json:"old_rdn"`
	OldParent string        `json:"old_parent"` // "" when the parent did not change
	NewDN     string        `json:"new_dn"`
	KeepNew   bool          `json:"keep_new"` // the entry had the new RDN's value before
	Check     []checkChange `json:"check"`
}

// checkChange is one change of the modify, as recovery checks it.
type checkChange struct {
	Op   uint     `json:"op"`
	Attr string   `json:"attr"`
	Vals []string `json:"vals"`
}

// beginRename records the pair; "" without a journal.
func (c *Conn) beginRename(ctx context.Context, id string, ri renameIntent, mods []ldap.Change) (string, error) {
	if c.cfg.Journal == nil {
		return "", nil
	}
	for _, m := range mods {
		if strings.EqualFold(m.Modification.Type, attrUserPassword) || c.d.secretAttr(m.Modification.Type) {
			continue
		}
		ri.Check = append(ri.Check, checkChange{Op: m.Operation, Attr: m.Modification.Type, Vals: m.Modification.Vals})
	}
	data, err := json.Marshal(ri)
	if err != nil {
		return "", err
	}
	return c.cfg.Journal.Begin(ctx, bridge.Intent{Kind: kindRename, ID: id, Data: data})
}

// recoverRename settles a pending rename and modify (see above).
func (c *Conn) recoverRename(ctx context.Context, it bridge.Intent) error {
	const op = "ldapside.(*Conn).recoverRename"
	var ri renameIntent
	if err := json.Unmarshal(it.Data, &ri); err != nil {
		return nil // unreadable: nothing can be done with it
	}
	attrs := []string{"1.1"}
	for _, ch := range ri.Check {
		attrs = append(attrs, ch.Attr)
	}
	return translate(op, c.with(ctx, nil, func(pc *pconn) error {
		e, err := c.findByID(pc, "", it.ID, attrs)
		if bridge.KindOf(err) == bridge.KindNotFound {
			return nil // deleted since
		}
		if err != nil {
			return err
		}
		if modified(e, ri.Check) {
			return nil // the request took full effect
		}
		cur, err := parseDN(e.DN)
		if err != nil {
			return err
		}
		target, err := parseDN(ri.NewDN)
		if err != nil || !cur.EqualFold(target) {
			return nil // not renamed (or renamed again since): nothing to undo
		}
		c.log.Warn("undoing the rename of a request cut short", "dn", e.DN, "id", it.ID, "old_rdn", ri.OldRDN)
		return pc.l.ModifyDN(ldap.NewModifyDNRequest(e.DN, ri.OldRDN, !ri.KeepNew, ri.OldParent))
	}))
}

// modified reports whether e holds what the changes write.
func modified(e *ldap.Entry, changes []checkChange) bool {
	for _, ch := range changes {
		have := e.GetAttributeValues(ch.Attr)
		switch ch.Op {
		case ldap.ReplaceAttribute:
			if len(have) != len(ch.Vals) {
				return false
			}
			for _, v := range ch.Vals {
				if _, ok := containsFold(have, v); !ok {
					return false
				}
			}
		case ldap.AddAttribute:
			for _, v := range ch.Vals {
				if _, ok := containsFold(have, v); !ok {
					return false
				}
			}
		case ldap.DeleteAttribute:
			if len(ch.Vals) == 0 && len(have) > 0 {
				return false
			}
			for _, v := range ch.Vals {
				if _, ok := containsFold(have, v); ok {
					return false
				}
			}
		}
	}
	return true
}
