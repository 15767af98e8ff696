package ldapside

import (
	"bytes"
	"crypto/md5"  //nolint:gosec // verifying legacy stored hashes, not creating them
	"crypto/sha1" //nolint:gosec // idem
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strings"
)

// passwordMatches reports whether candidate is the password stored as
// stored (an RFC 2307 "{SCHEME}..." value or cleartext). It runs locally on
// the value read with the service account, so that checking "did the
// password change?" never binds as the user: a failed bind would count
// against the account's lockout. Unknown schemes ({CRYPT}, {ARGON2}, ...)
// report false, so the password is set again: the safe direction.
func passwordMatches(stored, candidate string) bool {
	scheme, rest, ok := splitScheme(stored)
	if !ok {
		return subtle.ConstantTimeCompare([]byte(stored), []byte(candidate)) == 1
	}
	var h func() hash.Hash
	salted := false
	switch scheme {
	case "CLEARTEXT":
		return subtle.ConstantTimeCompare([]byte(rest), []byte(candidate)) == 1
	case "SHA":
		h = sha1.New
	case "SSHA":
		h, salted = sha1.New, true
	case "SHA256":
		h = sha256.New
	case "SSHA256":
		h, salted = sha256.New, true
	case "SHA384":
		h = sha512.New384
	case "SSHA384":
		h, salted = sha512.New384, true
	case "SHA512":
		h = sha512.New
	case "SSHA512":
		h, salted = sha512.New, true
	case "MD5":
		h = md5.New
	case "SMD5":
		h, salted = md5.New, true
	default:
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return false
	}
	size := h().Size()
	if len(raw) < size || (!salted && len(raw) != size) {
		return false
	}
	digest, salt := raw[:size], raw[size:]
	m := h()
	m.Write([]byte(candidate))
	m.Write(salt)
	return subtle.ConstantTimeCompare(m.Sum(nil), digest) == 1
}

// hashPassword makes a {SSHA...} value; the tests use it to check
// passwordMatches against known answers.
func hashPassword(scheme, password string, salt []byte) string {
	var h hash.Hash
	switch scheme {
	case "SSHA":
		h = sha1.New()
	case "SSHA256":
		h = sha256.New()
	case "SSHA512":
		h = sha512.New()
	default:
		panic("hashPassword: unsupported scheme " + scheme)
	}
	h.Write([]byte(password))
	h.Write(salt)
	return "{" + scheme + "}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

// splitScheme splits "{SSHA}abc" into "SSHA" and "abc".
func splitScheme(s string) (scheme, rest string, ok bool) {
	if !strings.HasPrefix(s, "{") {
		return "", "", false
	}
	end := strings.IndexByte(s, '}')
	if end < 2 {
		return "", "", false
	}
	return strings.ToUpper(s[1:end]), s[end+1:], true
}

// anyPasswordMatches checks candidate against every stored value.
func anyPasswordMatches(stored [][]byte, candidate string) bool {
	for _, s := range stored {
		if passwordMatches(string(bytes.TrimRight(s, "\x00")), candidate) {
			return true
		}
	}
	return false
}
