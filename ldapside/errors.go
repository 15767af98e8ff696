package ldapside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

var errPoolClosed = errors.New("ldapside: connection pool is closed")

// translate turns whatever an LDAP call returned into a *bridge.Error: the
// one place where LDAP result codes become kinds. It decides whose fault a
// failure is: the client's (a value the directory cannot take: 4xx), the
// operator's (a mapping table, schema, container or ACL the directory
// refuses: KindMisconfigured, 500, with a Fix for the log), or nobody's
// for now (the directory busy or down: 503). The client-safe message never
// quotes the diagnostic or a DN, nor an LDAP attribute name (the service
// names the SCIM attribute from Attr); the full error stays in Err and the
// result code and diagnostic in Log, for the log.
func translate(op string, err error) error { return translateIn(op, nil, err) }

// writeOp is what a failed write was doing. Only a write knows whether a
// noSuchObject means the entry is gone (a 404 for the id the client named)
// or that the container it was to go into is missing (the operator's).
type writeOp struct {
	what      string // "add", "modify", "delete"
	dn        string // the entry written
	newParent string // a move's new parent, or ""
	bindDN    string // the service account, for the rights hint
}

// explain translates the failure of a write: like translate, with what the
// write was doing, for the kind and the operator's hint.
func (c *Conn) explain(op, what, dn, newParent string, err error) error {
	return translateIn(op, &writeOp{what: what, dn: dn, newParent: newParent, bindDN: c.cfg.BindDN}, err)
}

func translateIn(op string, w *writeOp, err error) error {
	if err == nil {
		return nil
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		return bridge.Wrap(op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return bridge.E(op, bridge.KindUnavailable, "the directory did not answer in time", err)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		return classify(op, w, le, err)
	}
	if isConnectionError(err) {
		return bridge.E(op, bridge.KindUnavailable, "", err)
	}
	return bridge.E(op, bridge.KindInternal, "", err)
}

// maxDiagLog bounds the diagnostic copied into a log line.
const maxDiagLog = 512

// classify is translate for an LDAP result.
func classify(op string, w *writeOp, le *ldap.Error, err error) error {
	diag := ""
	if le.Err != nil {
		diag = le.Err.Error()
	}
	attr := attrInDiag(le.Err)
	f := failureOf(le.ResultCode, adExtendedCode(le.Err), diag, attr, le.MatchedDN, w)
	logged := diag
	if len(logged) > maxDiagLog {
		logged = logged[:maxDiagLog] + "..."
	}
	kvs := []any{"ldap_result_code", int(le.ResultCode), "ldap_result", ldap.LDAPResultCodeMap[le.ResultCode], "ldap_diagnostic", logged}
	if le.MatchedDN != "" {
		kvs = append(kvs, "ldap_matched_dn", le.MatchedDN)
	}
	if w != nil {
		kvs = append(kvs, "dn", w.dn)
		if w.newParent != "" {
			kvs = append(kvs, "new_parent", w.newParent)
		}
	}
	if attr != "" {
		kvs = append(kvs, "ldap_attribute", attr)
	}
	return &bridge.Error{Op: op, Kind: f.kind, Msg: f.msg, Err: err, Attr: attr, Fix: f.fix, Log: kvs}
}

// failure is what one LDAP result means for the gateway.
type failure struct {
	kind bridge.Kind
	msg  string // client-safe
	fix  string // for the operator's log; "" for a client's mistake
}

// failureOf classifies a result code, AD's extended code (where it says
// more than the result code) and the diagnostic. w is nil outside writes.
func failureOf(rc uint16, adCode, diag, attr, matched string, w *writeOp) failure {
	if w != nil && containerMissing(rc, adCode, matched, w) {
		parent := w.newParent
		if parent == "" {
			parent = parentOf(w.dn)
		}
		return failure{bridge.KindMisconfigured, "the directory container for this entry does not exist",
			fmt.Sprintf("the container %s does not exist: create it in the directory, or set create_missing_containers = true in the mapping table", parent)}
	}
	switch adCode {
	case "0000052D": // ERROR_PASSWORD_RESTRICTION
		return failure{kind: bridge.KindInvalidValue, msg: "the password does not meet the domain's policy"}
	case "00002071": // ERROR_DS_OBJ_STRING_NAME_EXISTS
		return failure{kind: bridge.KindConflict, msg: "an entry with this name already exists"}
	case "0000208D", "00002030", "00002095": // no such object (Samba: also a missing parent)
		return failure{kind: bridge.KindNotFound}
	case "00000005": // ERROR_ACCESS_DENIED
		return accessDenied(w)
	case "0000001F", "00002077": // ERROR_GEN_FAILURE, ERROR_DS_UNWILLING_TO_PERFORM...
		return unwilling(w)
	}
	schemaFix := func(what string) string {
		if attr == "" {
			return what + ": fix the mapping table's ldap names and object_classes, or load the schema the table needs"
		}
		return fmt.Sprintf("%s: fix the mapping table row that maps %s, or load the schema that defines it", what, attr)
	}
	switch rc {
	case ldap.LDAPResultEntryAlreadyExists:
		return failure{kind: bridge.KindConflict, msg: "an entry with this name already exists"}
	case ldap.LDAPResultNotAllowedOnNonLeaf:
		return failure{kind: bridge.KindConflict, msg: "the entry has entries below it"}
	case ldap.LDAPResultNoSuchObject:
		return failure{kind: bridge.KindNotFound}
	case ldap.LDAPResultInvalidAttributeSyntax:
		return failure{kind: bridge.KindInvalidValue, msg: "a value does not have the syntax the directory requires"}
	case ldap.LDAPResultConstraintViolation:
		return failure{kind: bridge.KindInvalidValue, msg: "a value violates a constraint of the directory"}
	case ldap.LDAPResultAttributeOrValueExists:
		return failure{kind: bridge.KindInvalidValue, msg: "a value is already present"}
	case ldap.LDAPResultNoSuchAttribute:
		if w == nil || schemaDiag(diag) {
			// Samba AD answers an attribute its schema lacks this way, and
			// slapd a sort key it does not know: only a write removes values.
			return failure{bridge.KindMisconfigured, "", schemaFix(attrOr(attr, "an attribute") + " is not in the directory schema")}
		}
		return failure{kind: bridge.KindInvalidValue, msg: "a value to remove is not present"}
	case ldap.LDAPResultUndefinedAttributeType:
		if strings.EqualFold(attr, attrLockedTime) {
			return failure{bridge.KindMisconfigured, "", "pwdAccountLockedTime, which disables accounts on OpenLDAP, is not in the directory schema: load the ppolicy overlay on the database (olcOverlay=ppolicy), or choose another way to disable accounts in the users mapping table"}
		}
		return failure{bridge.KindMisconfigured, "", schemaFix(attrOr(attr, "an attribute") + " is not in the directory schema")}
	case ldap.LDAPResultObjectClassViolation:
		return failure{bridge.KindMisconfigured, "", objectClassFix(diag, attr)}
	case ldap.LDAPResultObjectClassModsProhibited:
		return failure{bridge.KindMisconfigured, "", "the directory does not let an entry's structural object class change: make the mapping table's object_classes match the entries already in the container"}
	case ldap.LDAPResultInvalidDNSyntax:
		if w != nil && validDN(w.dn) && (w.newParent == "" || validDN(w.newParent)) {
			// The names the gateway wrote are well formed, so the one
			// refused is a value of a DN-valued attribute the client sent
			// (Samba: "could not parse … as a …12 DN"; OpenLDAP says
			// invalidAttributeSyntax for the same).
			return failure{kind: bridge.KindInvalidValue, msg: "a value that must name a directory entry is not a valid name"}
		}
		return failure{bridge.KindMisconfigured, "", "the directory refuses the entry's name: check the mapping table's rdn (an attribute the object classes allow, with a value) and container"}
	case ldap.LDAPResultNamingViolation:
		return failure{bridge.KindMisconfigured, "", "the directory refuses the entry's name: check the mapping table's rdn (an attribute the object classes allow, with a value) and container"}
	case ldap.LDAPResultNotAllowedOnRDN:
		return failure{bridge.KindMisconfigured, "", "the change removes the value that names the entry: map the rdn attribute from the SCIM attribute that names the resource, or mark that row create-only"}
	case ldap.LDAPResultInappropriateMatching:
		return failure{bridge.KindMisconfigured, "", fmt.Sprintf("%s has no matching rule for this filter or sort: map the SCIM attribute to a directory attribute that has one (EQUALITY, SUBSTR, ORDERING), or set the table's sort to one", attrOr(attr, "an attribute"))}
	case ldap.LDAPResultInsufficientAccessRights:
		return accessDenied(w)
	case ldap.LDAPResultUnwillingToPerform:
		return unwilling(w)
	case ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultSortControlMissing, ldap.LDAPResultOffsetRangeError:
		return failure{bridge.KindMisconfigured, "", "the directory refused a control dirbridge sent (sorting or virtual list view): on OpenLDAP load the sssvlv overlay on the database, or check the directory's limits for the service account"}
	case ldap.LDAPResultSizeLimitExceeded:
		return failure{bridge.KindMisconfigured, "", "the directory's size limit for the service account is below what a request needs: raise it (OpenLDAP olcLimits, AD MaxPageSize)"}
	case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
		return failure{bridge.KindMisconfigured, "", "the directory requires an encrypted connection for this: use an ldaps:// URL or start_tls = true"}
	case ldap.LDAPResultReferral, ldap.LDAPResultAffectsMultipleDSAs, ldap.LDAPResultLoopDetect,
		ldap.LDAPResultAliasProblem, ldap.LDAPResultAliasDereferencingProblem:
		return failure{bridge.KindMisconfigured, "", "the entry is not held by the server dirbridge writes to (a referral, an alias or another naming context): point ldap.urls at a writable server that holds base_dn, and keep the containers inside it"}
	case ldap.LDAPResultAuthMethodNotSupported:
		return failure{bridge.KindMisconfigured, "", "the directory does not accept simple binds for the service account: allow them (over TLS)"}
	case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication:
		return failure{kind: bridge.KindUnauthorized}
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultServerDown, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError,
		ldap.ErrorNetwork, ldap.LDAPResultAdminLimitExceeded:
		return failure{kind: bridge.KindUnavailable}
	}
	return failure{kind: bridge.KindInternal}
}

// containerMissing reports whether a write's noSuchObject is about where
// the entry was to go, not the entry: an add's parent, a move's new parent.
// When the server says the closest entry it found is the parent itself, the
// parent exists and something else (a DN-valued attribute) is missing.
func containerMissing(rc uint16, adCode, matched string, w *writeOp) bool {
	noSuch := rc == ldap.LDAPResultNoSuchObject || adCode == "0000208D" || adCode == "00002030" || adCode == "00002095"
	if !noSuch || w.what != "add" && w.newParent == "" {
		return false
	}
	if w.what == "add" && matched != "" && sameDN(matched, parentOf(w.dn)) {
		return false
	}
	return true
}

func accessDenied(w *writeOp) failure {
	if w == nil {
		return failure{bridge.KindMisconfigured, "", "the directory denied the service account this operation: grant the account in ldap.bind_dn read access to the users and groups containers and write access where dirbridge writes"}
	}
	where := w.newParent
	if where == "" {
		where = parentOf(w.dn)
	}
	return failure{bridge.KindMisconfigured, "", fmt.Sprintf("the service account %s may not %s entries in %s: grant it write access there (AD: delegate create, delete and manage user and group objects and reset password on the OU; OpenLDAP: an olcAccess rule giving it write on the subtree)", w.bindDN, w.what, where)}
}

func unwilling(w *writeOp) failure {
	what := "operation"
	if w != nil {
		what = w.what
	}
	return failure{bridge.KindMisconfigured, "", "the directory is unwilling to perform this " + what + ": for a password, is the connection encrypted (ldaps:// or start_tls) and may the account have one; else check the directory's restrictions (a read-only replica, a protected attribute the mapping table writes)"}
}

// objectClassFix names what the table's object classes get wrong, from
// the diagnostic where it says (OpenLDAP's and Samba's wording).
func objectClassFix(diag, attr string) string {
	d := strings.ToLower(diag)
	switch {
	case (strings.EqualFold(attr, "member") || strings.EqualFold(attr, "uniqueMember")) && (strings.Contains(d, "requires") || strings.Contains(d, "mandatory")):
		return fmt.Sprintf("the table's object_classes make a group need a %s: give the members row a placeholder, or use an object class whose members are optional", attr)
	case attr != "" && (strings.Contains(d, "requires") || strings.Contains(d, "mandatory")):
		return fmt.Sprintf("the table's object_classes require attribute %s and the entry has no value for it: map it with required = true or a default, or change object_classes", attr)
	case attr != "" && (strings.Contains(d, "not allowed") || strings.Contains(d, "does not exist in the specified objectclasses")):
		return fmt.Sprintf("the table's object_classes do not allow attribute %s: add an object class that allows it (MAY), or remove or fix the row", attr)
	case strings.Contains(d, "structural"):
		return "the table's object_classes have no (or more than one) structural object class: name exactly one"
	}
	return "the entry does not satisfy the directory schema: check the mapping table's object_classes against the attributes it maps (MUST and MAY)"
}

// schemaDiag reports whether a diagnostic says an attribute is unknown to
// the schema (Samba words it so, under noSuchAttribute).
func schemaDiag(diag string) bool {
	d := strings.ToLower(diag)
	return strings.Contains(d, "not found in the schema") || strings.Contains(d, "not in the schema") ||
		strings.Contains(d, "attribute type undefined")
}

func attrOr(attr, dflt string) string {
	if attr == "" {
		return dflt
	}
	return "attribute " + attr
}

// parentOf returns the DN of dn's parent as dn spells it (the log shows
// the operator's own spelling), or "" when dn has none or is not a DN.
func parentOf(dn string) string {
	if d, err := parseDN(dn); err != nil || len(d.RDNs) < 2 {
		return ""
	}
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++ // an escaped character, also an escaped comma
		case ',':
			return strings.TrimSpace(dn[i+1:])
		}
	}
	return ""
}

func sameDN(a, b string) bool {
	da, err1 := parseDN(a)
	db, err2 := parseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

// adDiag is the shape of Active Directory's (and Samba AD's) diagnostic
// messages: an extended Windows error code first, "0000052D: Constraint
// violation - ...". OpenLDAP's never start that way.
var adDiag = regexp.MustCompile(`^([0-9A-Fa-f]{8}): `)

// adExtendedCode returns the extended code of an AD diagnostic, upper case,
// or "".
func adExtendedCode(diag error) string {
	if diag == nil {
		return ""
	}
	if m := adDiag.FindStringSubmatch(diag.Error()); m != nil {
		return strings.ToUpper(m[1])
	}
	return ""
}

// attrInDiag finds an attribute name in a diagnostic such as OpenLDAP's
// "object class 'inetOrgPerson' requires attribute 'sn'" or
// "mail: value #0 invalid per syntax". The name is checked to be a bare
// attribute descriptor before anything uses it.
var (
	attrQuoted  = regexp.MustCompile(`attribute(?: type)? '([A-Za-z][A-Za-z0-9-]{0,63})'`)
	attrLeading = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]{0,63})(?:;[A-Za-z0-9-]+)*: `)
)

func attrInDiag(diag error) string {
	if diag == nil {
		return ""
	}
	s := diag.Error()
	if m := attrQuoted.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if adDiag.MatchString(s) {
		return "" // "0000052D: ..." is a code, not an attribute
	}
	if m := attrLeading.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// isConnectionError reports whether err means the connection itself is
// unusable, so that the pool drops it instead of handing it out again.
func isConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultConnectError,
			ldap.LDAPResultTimeout, ldap.LDAPResultUnavailable, ldap.ErrorUnexpectedResponse:
			return true
		}
		if le.Err != nil && le.Err != err && isConnectionError(le.Err) {
			return true
		}
		return false
	}
	// go-ldap formats a failed read with %s, not %w: its cause can only be
	// recognised by the text.
	if strings.Contains(err.Error(), "unable to read LDAP response packet") {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, ldap.ErrConnUnbound)
}

// validDN reports whether dn parses as a DN (RFC 4514).
func validDN(dn string) bool {
	_, err := ldap.ParseDN(dn)
	return dn != "" && err == nil
}
