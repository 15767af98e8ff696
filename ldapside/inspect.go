package ldapside

// What `dirbridge check` and serve's start ask the directory besides the
// bridge.Directory contract: each configured server on its own, the root
// DSE, the subschema, entries read raw (AD's constructed rights
// attributes), AD's index flags, and a write probe. Everything returns
// *bridge.Error; the judging is the preflight package's.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// RawEntry is one entry as read: its DN and its attributes' string values,
// by lower-cased attribute name.
type RawEntry struct {
	DN    string
	Attrs map[string][]string
}

// Get returns the values of attribute name (any case).
func (e RawEntry) Get(name string) []string { return e.Attrs[strings.ToLower(name)] }

func rawEntry(e *ldap.Entry) RawEntry {
	r := RawEntry{DN: e.DN, Attrs: map[string][]string{}}
	for _, a := range e.Attributes {
		// A ranged attribute ("member;range=0-1499") is its base name here.
		name, _, _ := strings.Cut(strings.ToLower(a.Name), ";")
		r.Attrs[name] = append(r.Attrs[name], a.Values...)
	}
	return r
}

// URL check stages, in the order a connection goes through them.
const (
	StageReach = "reach" // TCP connect (and, for ldaps://, the handshake's transport)
	StageTLS   = "tls"   // the certificate does not verify, or StartTLS fails
	StageBind  = "bind"  // the service bind is refused
)

// URLError is CheckURL's failure: the stage that failed and the cause.
type URLError struct {
	Stage string
	Err   error
}

func (e *URLError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *URLError) Unwrap() error { return e.Err }

// CheckURL dials raw alone (not the pool's failover over every URL),
// secures the connection as configured, verifies the certificate and binds
// as the service account. It returns nil or a *bridge.Error wrapping a
// *URLError that says which stage failed.
func (c *Conn) CheckURL(ctx context.Context, raw string) error {
	const op = "ldapside.(*Conn).CheckURL"
	fail := func(stage string, err error) error {
		return bridge.E(op, bridge.KindUnavailable, "", &URLError{Stage: stage, Err: err})
	}
	l, err := c.connectURL(ctx, raw)
	if err != nil {
		if isTLSError(err) {
			return fail(StageTLS, err)
		}
		return fail(StageReach, err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	if err := l.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
			return fail(StageBind, err)
		}
		return fail(StageReach, err)
	}
	return nil
}

// isTLSError tells a certificate or handshake failure from a server that
// cannot be reached.
func isTLSError(err error) bool {
	var (
		unk  x509.UnknownAuthorityError
		host x509.HostnameError
		inv  x509.CertificateInvalidError
		rec  tls.RecordHeaderError
		ve   *tls.CertificateVerificationError
	)
	if errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inv) || errors.As(err, &rec) || errors.As(err, &ve) {
		return true
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "remote error" {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "tls:") || strings.Contains(s, "x509:") || strings.Contains(s, "Start TLS")
}

// rootDSEAttrs are what the preflight reads from the root DSE; AD returns
// its operational ones only when named.
var rootDSEAttrs = []string{
	"supportedControl", "supportedExtension", "supportedLDAPVersion", "subschemaSubentry", "namingContexts",
	"vendorName", "vendorVersion", "defaultNamingContext", "schemaNamingContext", "configurationNamingContext",
	"rootDomainNamingContext", "dnsHostName", "forestFunctionality",
}

// RootDSE reads the root DSE of the active server.
func (c *Conn) RootDSE(ctx context.Context) (RawEntry, error) {
	const op = "ldapside.(*Conn).RootDSE"
	e, err := c.ReadEntry(ctx, "", rootDSEAttrs)
	if err != nil {
		return RawEntry{}, bridge.Wrap(op, err)
	}
	return e, nil
}

// ReadSchema reads and parses the subschema subentry at dn (the root DSE's
// subschemaSubentry). Descriptions that do not parse are returned beside
// the schema, which holds the rest.
func (c *Conn) ReadSchema(ctx context.Context, dn string) (*Schema, []error, error) {
	const op = "ldapside.(*Conn).ReadSchema"
	var res *ldap.SearchResult
	err := c.with(ctx, nil, func(pc *pconn) error {
		var err error
		res, err = pc.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=subschema)", []string{"attributeTypes", "objectClasses", "dITContentRules"}, nil))
		return err
	})
	if err != nil {
		return nil, nil, inspectErr(op, err)
	}
	if len(res.Entries) != 1 {
		return nil, nil, bridge.Errorf(op, bridge.KindNotFound, "the subschema entry cannot be read")
	}
	e := rawEntry(res.Entries[0])
	s, bad := ParseSchema(e.Get("attributeTypes"), e.Get("objectClasses"), e.Get("dITContentRules"))
	if len(e.Get("attributeTypes")) == 0 || len(e.Get("objectClasses")) == 0 {
		return nil, nil, bridge.Errorf(op, bridge.KindForbidden, "the subschema entry shows no attribute types or object classes to the service account")
	}
	return s, bad, nil
}

// ReadEntry reads the entry at dn ("" is the root DSE) with attrs. A
// missing entry is KindNotFound, one the service account may not see
// KindForbidden.
func (c *Conn) ReadEntry(ctx context.Context, dn string, attrs []string) (RawEntry, error) {
	const op = "ldapside.(*Conn).ReadEntry"
	var res *ldap.SearchResult
	err := c.with(ctx, nil, func(pc *pconn) error {
		var err error
		res, err = pc.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			filterAll, attrs, nil))
		return err
	})
	if err != nil {
		return RawEntry{}, inspectErr(op, err)
	}
	if len(res.Entries) != 1 {
		return RawEntry{}, bridge.Errorf(op, bridge.KindNotFound, "no such entry")
	}
	return rawEntry(res.Entries[0]), nil
}

// FindEntry returns one entry below base (subtree) of every class in
// objectClasses, with attrs; ok is false when there is none.
func (c *Conn) FindEntry(ctx context.Context, base string, objectClasses, attrs []string) (RawEntry, bool, error) {
	const op = "ldapside.(*Conn).FindEntry"
	var f strings.Builder
	f.WriteString("(&")
	for _, oc := range objectClasses {
		f.WriteString("(objectClass=" + ldap.EscapeFilter(oc) + ")")
	}
	f.WriteString(")")
	var res *ldap.SearchResult
	err := c.with(ctx, nil, func(pc *pconn) error {
		// A page of 2 besides the size limit: Samba 4.17 sent every
		// entry below base for the size limit of 2 alone (at 10,000
		// users with allowedAttributesEffective, 345 MB read at start
		// and a gateway of 2.5 GB; see docs/performance.md).
		paging := ldap.NewControlPaging(2)
		var err error
		res, err = pc.l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
			f.String(), attrs, []ldap.Control{paging}))
		if err == nil {
			if pr, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok && len(pr.Cookie) > 0 {
				// A page size of 0 ends the paged search on the server
				// (RFC 2696 §3).
				done := ldap.NewControlPaging(0)
				done.SetCookie(pr.Cookie)
				_, _ = pc.l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
					f.String(), []string{"1.1"}, []ldap.Control{done}))
			}
		}
		return err
	})
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultSizeLimitExceeded && res != nil && len(res.Entries) > 0 {
		err = nil
	}
	if err != nil {
		return RawEntry{}, false, inspectErr(op, err)
	}
	for _, e := range res.Entries {
		// The container itself may be of the classes (an OU table); an
		// entry below it is what the rights are asked about.
		if !strings.EqualFold(e.DN, base) {
			return rawEntry(e), true, nil
		}
	}
	return RawEntry{}, false, nil
}

// ADSearchFlags returns the searchFlags of the attributeSchema objects
// whose lDAPDisplayName is one of names, by lower-cased name, read below
// schemaNC (the root DSE's schemaNamingContext). Bit 1 is "indexed".
func (c *Conn) ADSearchFlags(ctx context.Context, schemaNC string, names []string) (map[string]int, error) {
	const op = "ldapside.(*Conn).ADSearchFlags"
	out := map[string]int{}
	if len(names) == 0 {
		return out, nil
	}
	var f strings.Builder
	f.WriteString("(&(objectClass=attributeSchema)(|")
	for _, n := range names {
		f.WriteString("(lDAPDisplayName=" + ldap.EscapeFilter(n) + ")")
	}
	f.WriteString("))")
	var res *ldap.SearchResult
	err := c.with(ctx, nil, func(pc *pconn) error {
		var err error
		res, err = pc.l.Search(ldap.NewSearchRequest(schemaNC, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), []string{"lDAPDisplayName", "searchFlags"}, nil))
		return err
	})
	if err != nil {
		return nil, inspectErr(op, err)
	}
	for _, e := range res.Entries {
		n, _ := strconv.Atoi(e.GetAttributeValue("searchFlags"))
		out[strings.ToLower(e.GetAttributeValue("lDAPDisplayName"))] = n
	}
	return out, nil
}

// ProbeWrite adds the entry dn with attrs and deletes it again: whether
// the service account may create (and remove) such entries there. The
// caller picks a name no one uses. A refusal keeps its kind (KindForbidden
// for insufficient access); a probe added but not deleted is reported as
// such, with its DN, so the operator can remove it.
func (c *Conn) ProbeWrite(ctx context.Context, dn string, attrs map[string][]string) error {
	const op = "ldapside.(*Conn).ProbeWrite"
	if _, err := parseDN(dn); err != nil {
		return bridge.E(op, bridge.KindInvalidValue, "the probe entry's name is not a DN", err)
	}
	return inspectErr(op, c.with(ctx, nil, func(pc *pconn) error {
		add := ldap.NewAddRequest(dn, nil)
		for name, vals := range attrs {
			add.Attribute(name, vals)
		}
		if err := pc.l.Add(add); err != nil {
			return err
		}
		if err := pc.l.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			return bridge.E(op, bridge.KindForbidden, "the probe entry was added but cannot be deleted: remove "+dn+" by hand", err)
		}
		return nil
	}))
}

// inspectErr classifies what an inspection met: the kinds the preflight
// tells apart (missing, refused, unreachable) from the LDAP result code,
// the rest as translate does.
func inspectErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		return bridge.Wrap(op, err)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultNoSuchObject:
			return bridge.E(op, bridge.KindNotFound, "no such entry", err)
		case ldap.LDAPResultInsufficientAccessRights:
			return bridge.E(op, bridge.KindForbidden, "insufficient access rights", err)
		case ldap.LDAPResultObjectClassViolation, ldap.LDAPResultUndefinedAttributeType, ldap.LDAPResultInvalidAttributeSyntax,
			ldap.LDAPResultConstraintViolation, ldap.LDAPResultNamingViolation, ldap.LDAPResultUnwillingToPerform:
			return bridge.E(op, bridge.KindInvalidValue, "the directory refused the entry: "+ldap.LDAPResultCodeMap[le.ResultCode], err)
		}
	}
	return translate(op, err)
}
