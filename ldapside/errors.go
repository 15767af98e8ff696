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
// one place where LDAP result codes become kinds. The client-safe message may
// name an attribute, parsed from the server's diagnostic, but never quotes the
// diagnostic or a DN; the full error stays in Err for the log.
func translate(op string, err error) error {
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
		if kind, msg, ok := kindOfADCode(adExtendedCode(le.Err)); ok {
			return bridge.E(op, kind, msg, err)
		}
		return bridge.E(op, kindOfCode(le.ResultCode), messageOfCode(le.ResultCode, le.Err), err)
	}
	if isConnectionError(err) {
		return bridge.E(op, bridge.KindUnavailable, "", err)
	}
	return bridge.E(op, bridge.KindInternal, "", err)
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

// kindOfADCode classifies AD's extended codes where they say more than the
// LDAP result code: a password policy refusal is a constraint violation
// like any other to LDAP, but a client can act on it only when told so.
// Codes not listed fall back to the LDAP result code.
func kindOfADCode(code string) (bridge.Kind, string, bool) {
	switch code {
	case "":
		return 0, "", false
	case "0000052D": // ERROR_PASSWORD_RESTRICTION
		return bridge.KindInvalidValue, "the password does not meet the domain's policy", true
	case "00002071": // ERROR_DS_OBJ_STRING_NAME_EXISTS
		return bridge.KindConflict, "an entry with this name already exists", true
	case "0000208D", "00002030", "00002095": // no such object; Samba: parent missing on add / rename
		return bridge.KindInternal, "the directory container for this entry does not exist", true
	case "00000005": // ERROR_ACCESS_DENIED
		return bridge.KindForbidden, "", true
	case "0000001F", "00002077": // ERROR_GEN_FAILURE, ERROR_DS_UNWILLING_TO_PERFORM...
		return bridge.KindInternal, "", true
	}
	return 0, "", false
}

func kindOfCode(code uint16) bridge.Kind {
	switch code {
	case ldap.LDAPResultEntryAlreadyExists:
		return bridge.KindConflict
	case ldap.LDAPResultNotAllowedOnNonLeaf:
		return bridge.KindConflict
	case ldap.LDAPResultNoSuchObject:
		return bridge.KindNotFound
	case ldap.LDAPResultObjectClassViolation, ldap.LDAPResultInvalidAttributeSyntax,
		ldap.LDAPResultConstraintViolation, ldap.LDAPResultUndefinedAttributeType,
		ldap.LDAPResultNamingViolation, ldap.LDAPResultNotAllowedOnRDN,
		ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultObjectClassModsProhibited,
		ldap.LDAPResultAttributeOrValueExists, ldap.LDAPResultNoSuchAttribute,
		ldap.LDAPResultInappropriateMatching:
		return bridge.KindInvalidValue
	case ldap.LDAPResultInsufficientAccessRights:
		return bridge.KindForbidden
	case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication:
		return bridge.KindUnauthorized
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultServerDown, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError,
		ldap.ErrorNetwork, ldap.LDAPResultAdminLimitExceeded:
		return bridge.KindUnavailable
	}
	return bridge.KindInternal
}

// attrInDiag finds an attribute name in an OpenLDAP diagnostic such as
// "object class 'inetOrgPerson' requires attribute 'sn'" or
// "mail: value #0 invalid per syntax". The name is checked to be a bare
// attribute descriptor before it reaches a client.
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
	if m := attrLeading.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func messageOfCode(code uint16, diag error) string {
	attr := attrInDiag(diag)
	with := func(generic, named string) string {
		if attr == "" {
			return generic
		}
		return fmt.Sprintf(named, attr)
	}
	switch code {
	case ldap.LDAPResultEntryAlreadyExists:
		return "an entry with this name already exists"
	case ldap.LDAPResultNotAllowedOnNonLeaf:
		return "the entry has entries below it"
	case ldap.LDAPResultObjectClassViolation:
		return with("the entry does not satisfy the directory schema", "attribute %q is missing or not allowed by the directory schema")
	case ldap.LDAPResultInvalidAttributeSyntax:
		return with("a value does not have the syntax the directory schema requires", "a value of attribute %q does not have the syntax the directory schema requires")
	case ldap.LDAPResultConstraintViolation:
		return with("a value violates a constraint of the directory", "a value of attribute %q violates a constraint of the directory")
	case ldap.LDAPResultUndefinedAttributeType:
		return with("an attribute is not defined in the directory schema", "attribute %q is not defined in the directory schema")
	case ldap.LDAPResultNamingViolation, ldap.LDAPResultInvalidDNSyntax:
		return "the entry's name is not valid in the directory"
	case ldap.LDAPResultNotAllowedOnRDN:
		return with("the naming attribute cannot be changed this way", "attribute %q names the entry and cannot be changed this way")
	case ldap.LDAPResultObjectClassModsProhibited:
		return "the entry's object classes cannot be changed"
	case ldap.LDAPResultAttributeOrValueExists:
		return with("a value is already present", "a value of attribute %q is already present")
	case ldap.LDAPResultNoSuchAttribute:
		return with("a value to remove is not present", "a value of attribute %q is not present")
	case ldap.LDAPResultInappropriateMatching:
		return with("an attribute cannot be compared or sorted this way", "attribute %q cannot be compared or sorted this way")
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
