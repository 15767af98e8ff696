package ldapside

import (
	"testing"

	"github.com/dirbridge/dirbridge/testenv"
)

// TestADFindEntryReadsOnePage: the preflight's rights check asks for one
// entry of a class below a container with allowedAttributesEffective.
// Samba 4.17 answered the size limit of 2 alone with every entry below the
// container (at 10,000 users, 345 MB held by a gateway at start); with a
// page of 2 the DC sends two. The bytes the DC sends back are counted on
// the wire against the size of all the entries' answers.
func TestADFindEntryReadsOnePage(t *testing.T) {
	s := testenv.SharedSambaAD(t)
	p := adOpCounter(t, s)
	_, c, people, _ := startAD(t, func(cfg *Config) { cfg.URLs = []string{p.url()}; cfg.PoolSize = 1 })
	ctx := tctx(t)
	addContacts(t, s, people, "fe", 40)
	all := int64(0)
	for _, e := range adminSearch(t, s, people, "(objectClass=contact)", "allowedAttributesEffective") {
		for _, v := range e.GetAttributeValues("allowedAttributesEffective") {
			all += int64(len(v))
		}
	}
	p.down.Store(0)
	e, ok, err := c.FindEntry(ctx, people, []string{"contact"}, []string{"allowedAttributesEffective"})
	if err != nil || !ok {
		t.Fatalf("FindEntry: ok=%t, %v", ok, err)
	}
	if len(e.Get("allowedAttributesEffective")) == 0 {
		t.Fatalf("FindEntry returned %s without allowedAttributesEffective", e.DN)
	}
	if d := p.down.Load(); d > all/5 {
		t.Errorf("the DC sent %d bytes for one entry; all 40 entries' answers are %d bytes", d, all)
	}
}
