package ldapside

import (
	"errors"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// adConfirmDeletes checks, with one base search of the group each
// ((member=value), the server matching its own values as a Compare
// would), the member values changes delete that adPresentMembers did not
// find, and adds those the group does hold to present: that holds whatever
// the service account may read of the member entries and wherever they
// are. A re-sent removal thus costs one small search, not the list.
func (c *Conn) adConfirmDeletes(pc *pconn, dn string, changes []bridge.Change, present valueSet) (valueSet, error) {
	if present == nil {
		return present, nil
	}
	have := present.get("member")
	for _, ch := range changes {
		if ch.Op != bridge.ChangeDelete || !strings.EqualFold(ch.Attr, "member") {
			continue
		}
		for _, v := range ch.Values {
			if _, ok := containsFold(have, v); ok {
				continue
			}
			res, err := pc.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(member="+ldap.EscapeFilter(v)+")", []string{"1.1"}, nil))
			if err != nil {
				var le *ldap.Error
				if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultInvalidAttributeSyntax {
					continue // not a DN: not present
				}
				return nil, err
			}
			if len(res.Entries) == 1 {
				have = append(have, v)
			}
		}
	}
	present.set("member", have)
	return present, nil
}

// adMemberChunk bounds the OR of one adPresentMembers search: a PATCH that
// names thousands of members becomes several searches of this many, not one
// filter the server may refuse for its size.
const adMemberChunk = 200

// adValueLevel is valueLevel for AD: only the group's member attribute is
// planned from the named values (adPresentMembers answers which of them the
// group holds); every other attribute is read whole as before. Samba offers
// no Matched Values control, and without this a member add or remove read
// the whole list (1,500 values a range step) before the modify, which it
// must because Samba 4.17 refuses a re-add (68) and an absent delete (53)
// in spite of Permissive Modify.
func adValueLevel(changes []bridge.Change) map[string][]string {
	var vals []string
	for _, ch := range changes {
		if !strings.EqualFold(ch.Attr, "member") {
			continue
		}
		if ch.Op == bridge.ChangeReplace || len(ch.Values) == 0 {
			return nil
		}
		vals = append(vals, ch.Values...)
	}
	if len(vals) == 0 {
		return nil
	}
	return map[string][]string{"member": vals}
}

// adPresentMembers answers, for AD, which of the named member values the
// group dn holds, by asking for the named entries that have the group in
// their memberOf, instead of reading the group's member list: AD keeps
// memberOf as the back link of member, so an entry has dn in memberOf
// exactly when dn's member holds the entry's DN. The values come back as
// the request spelled them (matched by DN equality), which is what
// planChanges compares with.
//
// Found is proof of presence; not found is taken as absence only for an
// add (sending it is safe: were the value there after all, say on an entry
// outside the base or hidden from the service account, Samba's 68 sends
// modifyIdempotentRead to its re-read). A delete of a value not found is
// confirmed by adConfirmDeletes instead, since skipping it on a false absence would
// answer 2xx for a member left in the group.
//
// ok is false when the answer cannot be had this way (vals names an
// attribute other than member, a value is not a DN, the server refused
// the filter); the caller then reads the attribute whole. A member outside
// the base DN is not found by the search and so taken as absent: its add
// or delete then draws Samba's 68 or 53, on which modifyIdempotentRead
// re-reads the whole list and re-plans, so the result stays exact.
func (c *Conn) adPresentMembers(pc *pconn, dn string, vals map[string][]string) (valueSet, bool, error) {
	if len(vals) != 1 || len(vals["member"]) == 0 {
		return nil, false, nil
	}
	named := vals["member"]
	parsed := make([]*ldap.DN, len(named))
	for i, v := range named {
		d, err := parseDN(v)
		if err != nil {
			return nil, false, nil
		}
		parsed[i] = d
	}
	var present []string
	for start := 0; start < len(named); start += adMemberChunk {
		part := named[start:min(start+adMemberChunk, len(named))]
		var f strings.Builder
		f.WriteString("(&(memberOf=")
		f.WriteString(ldap.EscapeFilter(dn))
		f.WriteString(")(|")
		for _, v := range part {
			f.WriteString("(distinguishedName=")
			f.WriteString(ldap.EscapeFilter(v))
			f.WriteString(")")
		}
		f.WriteString("))")
		res, err := pc.l.Search(ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), []string{"1.1"}, nil))
		if err != nil {
			if isConnectionError(err) {
				return nil, false, err
			}
			c.log.Debug("finding the named members by memberOf failed, reading the member list", "dn", dn, "error", err)
			return nil, false, nil
		}
		for _, e := range res.Entries {
			got, err := parseDN(e.DN)
			if err != nil {
				continue
			}
			for i, d := range parsed[start : start+len(part)] {
				if d.EqualFold(got) {
					present = append(present, part[i])
				}
			}
		}
	}
	out := valueSet{}
	out.set("member", present)
	return out, true, nil
}
