package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"
)

// seedUID names the i-th seeded user.
func seedUID(i int) string { return fmt.Sprintf("u%07d", i) }

// userAdd is an entry shaped exactly as the shipped users table
// (conf/examples/openldap-users.toml) creates one from a SCIM User with
// userName, name.givenName, name.familyName and one work email: uid as the
// RDN under the users container, inetOrgPerson, cn computed from the names.
func userAdd(peopleDN, uid string, i int) *ldap.AddRequest {
	given, family := "Given"+strconv.Itoa(i), "Family"+strconv.Itoa(i)
	ar := ldap.NewAddRequest("uid="+uid+","+peopleDN, nil)
	ar.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
	ar.Attribute("uid", []string{uid})
	ar.Attribute("cn", []string{given + " " + family})
	ar.Attribute("sn", []string{family})
	ar.Attribute("givenName", []string{given})
	ar.Attribute("mail", []string{uid + "@example.com"})
	return ar
}

// addMany runs the adds make(i) returns for i in [from, to) over the pool's
// connections concurrently. It is the bench's setup, not a measurement.
func addMany(ctx context.Context, p *rawPool, workers, from, to int, make func(i int) *ldap.AddRequest) error {
	return onEach(ctx, p, workers, from, to, func(l *ldap.Conn, i int) error {
		if err := l.Add(make(i)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("seeding entry %d: %w", i, err)
		}
		return nil
	})
}

// onEach runs fn(l, i) for i in [from, to) on workers goroutines, each with
// a connection of the pool; the first error stops them all.
func onEach(ctx context.Context, p *rawPool, workers, from, to int, fn func(l *ldap.Conn, i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := p.get()
			defer p.put(l)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := fn(l, i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(to))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// growDatabase lifts the test instance's 256 MiB map size: 100,000 users
// with the instance's substring indexes do not fit in it. The map is a
// sparse file, so the larger limit costs nothing until used; the sort and
// VLV limits of the instance stay as they are, since those are part of
// what is measured.
func growDatabase(l *ldap.Conn) error {
	m := ldap.NewModifyRequest("olcDatabase={1}mdb,cn=config", nil)
	m.Replace("olcDbMaxSize", []string{strconv.FormatInt(8<<30, 10)})
	return l.Modify(m)
}

// setNoSync turns the database's fsync per commit off (seeding) and back
// on (measuring). Seeding is setup: with a sync per add it runs at the
// disk's flush rate, minutes for 100,000 users. Every measurement runs with
// the instance's own setting, syncs on.
func setNoSync(l *ldap.Conn, on bool) error {
	m := ldap.NewModifyRequest("olcDatabase={1}mdb,cn=config", nil)
	m.Replace("olcDbNoSync", []string{strings.ToUpper(strconv.FormatBool(on))})
	return l.Modify(m)
}

// idsOf returns the SCIM ids (entryUUID, objectGUID) of the entries that filter(key) selects below
// base, one search per key over the pool.
func idsOf(ctx context.Context, p *rawPool, d benchDir, workers int, base string, keys []string, filter func(string) string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var mu sync.Mutex
	err := onEach(ctx, p, workers, 0, len(keys), func(l *ldap.Conn, i int) error {
		res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
			filter(keys[i]), []string{d.idAttr()}, nil))
		if err == nil && len(res.Entries) != 1 {
			err = fmt.Errorf("%d entries", len(res.Entries))
		}
		if err != nil {
			return fmt.Errorf("looking up %q: %w", keys[i], err)
		}
		mu.Lock()
		out[keys[i]] = d.idOf(res.Entries[0])
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func uidFilter(uid string) string { return "(uid=" + ldap.EscapeFilter(uid) + ")" }
func cnFilter(cn string) string   { return "(cn=" + ldap.EscapeFilter(cn) + ")" }

// buildGroup creates a groupOfNames with the given members: one add with
// the first chunk, then value-level adds of the rest, so that no single
// request comes near slapd's incoming size limit.
func buildGroup(d benchDir, l *ldap.Conn, cn string, members []string) error {
	const chunk = 5000
	first := members[:min(chunk, len(members))]
	if err := l.Add(d.groupAdd(cn, first)); err != nil {
		return fmt.Errorf("adding group %s: %w", cn, err)
	}
	for i := len(first); i < len(members); i += chunk {
		m := ldap.NewModifyRequest(d.groupDN(cn), nil)
		m.Add("member", members[i:min(i+chunk, len(members))])
		if err := l.Modify(m); err != nil {
			return fmt.Errorf("adding members to %s: %w", cn, err)
		}
	}
	return nil
}
