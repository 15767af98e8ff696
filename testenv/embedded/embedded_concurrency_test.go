package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestConcurrentDirectoryAndLDAP runs SCIM-style directory calls and LDAP
// clients at once; run with -race. It checks results, not timings: every
// write is seen, binds of live users work, and the data ends consistent.
func TestConcurrentDirectoryAndLDAP(t *testing.T) {
	e, srv := startTestServer(t)
	ctx := context.Background()
	group := mustAdd(t, e, bridge.AddRequest{DN: "cn=all,ou=groups,dc=example,dc=com", Attrs: map[string][]string{
		"objectClass": {"groupOfNames"}, "cn": {"all"}, "member": {"cn=nobody,dc=example,dc=com"},
	}})
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				uid := fmt.Sprintf("w%d-%d", w, i)
				req := person(uid)
				req.Password = "pw-" + uid
				u, err := e.Add(ctx, req)
				if err != nil {
					report(err)
					return
				}
				title := fmt.Sprintf("t%d", i)
				if _, err := e.Modify(ctx, bridge.ModifyRequest{ID: u.ID, Changes: []bridge.Change{
					{Op: bridge.ChangeReplace, Attr: "title", Values: []string{title}}}}); err != nil {
					report(err)
					return
				}
				if _, err := e.Modify(ctx, bridge.ModifyRequest{ID: group.ID, Changes: []bridge.Change{
					{Op: bridge.ChangeAdd, Attr: "member", Values: []string{u.DN}}}}); err != nil {
					report(err)
					return
				}
				if i%3 == 0 {
					if err := e.Delete(ctx, u.ID); err != nil {
						report(err)
						return
					}
				}
			}
		}(w)
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			c, err := ldap.DialURL(srv.URL())
			if err != nil {
				report(err)
				return
			}
			defer c.Close()
			for i := 0; i < 20; i++ {
				if err := c.Bind(testAdminDN, testAdminPW); err != nil {
					report(err)
					return
				}
				if _, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=people,dc=example,dc=com", ldap.ScopeSingleLevel,
					0, 0, 0, false, "(objectClass=person)", []string{"uid", "memberOf"}, nil), 4); err != nil {
					report(err)
					return
				}
				res, err := e.Search(ctx, bridge.SearchRequest{Base: "ou=people,dc=example,dc=com", Scope: bridge.ScopeOne,
					SortBy: "uid", Offset: 1, Count: 3})
				if err != nil {
					report(err)
					return
				}
				if len(res.Entries) > res.Total {
					report(fmt.Errorf("page larger than total"))
				}
				// A bind as a live user, over LDAP.
				if i > 0 {
					u, err := e.Search(ctx, bridge.SearchRequest{Filter: bridge.Eq("uid", fmt.Sprintf("w%d-%d", r, 1)), Count: 1})
					if err == nil && len(u.Entries) == 1 {
						if err := c.Bind(u.Entries[0].DN, fmt.Sprintf("pw-w%d-%d", r, 1)); err != nil {
							report(fmt.Errorf("bind as live user: %w", err))
						}
					}
				}
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res, err := e.Search(ctx, bridge.SearchRequest{Base: "ou=people,dc=example,dc=com", Scope: bridge.ScopeOne, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * (perWriter - (perWriter+2)/3); res.Total != want {
		t.Errorf("%d users left, want %d", res.Total, want)
	}
	g, _ := e.Get(ctx, "", group.ID, nil)
	if got := len(g.Values("member")); got != res.Total+1 {
		t.Errorf("group has %d members, want %d", got, res.Total+1)
	}
	if err := checkIntegrity(e); err != nil {
		t.Fatal(err)
	}
}
