package embedded

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost parameters of the {ARGON2} scheme, in the units
// OpenLDAP's argon2 module writes: memory in KiB.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     int
	KeyLen      uint32
}

// DefaultArgon2 matches the defaults of OpenLDAP's pw-argon2 module
// (argon2id, t=3, m=4096 KiB, p=1), so hashes written here look like hashes
// written by slapd and cost the same to check.
var DefaultArgon2 = Argon2Params{Memory: 4096, Iterations: 3, Parallelism: 1, SaltLen: 16, KeyLen: 32}

var errBadHash = errors.New("unrecognized password hash")

// hashPassword returns the {ARGON2} (argon2id) hash of pw in the format of
// OpenLDAP's pw-argon2 module.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("{ARGON2}$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// hasScheme reports whether v already names a password scheme ("{SSHA}...").
// Such values are stored as given, like slapd's olcPPolicyHashCleartext does.
func hasScheme(v string) bool {
	if !strings.HasPrefix(v, "{") {
		return false
	}
	end := strings.IndexByte(v, '}')
	if end < 2 {
		return false
	}
	for _, c := range v[1:end] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// verifyPassword checks pw against one stored userPassword value. It
// understands {ARGON2} (argon2id and argon2i), {SSHA}, {SSHA256}, {SSHA512},
// {SHA}, {SHA256}, {SHA512}, {CLEARTEXT} and a bare cleartext value, so that
// entries written by other tools can bind.
func verifyPassword(stored, pw string) (bool, error) {
	if !hasScheme(stored) {
		return subtle.ConstantTimeCompare([]byte(stored), []byte(pw)) == 1, nil
	}
	end := strings.IndexByte(stored, '}')
	scheme, rest := strings.ToUpper(stored[1:end]), stored[end+1:]
	switch scheme {
	case "ARGON2":
		return verifyArgon2(rest, pw)
	case "SSHA":
		return verifySalted(sha1.New, sha1.Size, rest, pw)
	case "SSHA256":
		return verifySalted(sha256.New, sha256.Size, rest, pw)
	case "SSHA512":
		return verifySalted(sha512.New, sha512.Size, rest, pw)
	case "SHA":
		return verifySalted(sha1.New, sha1.Size, rest, pw)
	case "SHA256":
		return verifySalted(sha256.New, sha256.Size, rest, pw)
	case "SHA512":
		return verifySalted(sha512.New, sha512.Size, rest, pw)
	case "CLEARTEXT":
		return subtle.ConstantTimeCompare([]byte(rest), []byte(pw)) == 1, nil
	}
	return false, errBadHash
}

// verifySalted checks base64(H(pw + salt) + salt); an unsalted {SHA} value is
// the same with an empty salt.
func verifySalted(h func() hash.Hash, size int, b64, pw string) (bool, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < size {
		return false, errBadHash
	}
	digest, salt := raw[:size], raw[size:]
	m := h()
	m.Write([]byte(pw))
	m.Write(salt)
	return subtle.ConstantTimeCompare(m.Sum(nil), digest) == 1, nil
}

func verifyArgon2(s, pw string) (bool, error) {
	// $argon2id$v=19$m=4096,t=3,p=1$salt$hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return false, errBadHash
	}
	variant := parts[1]
	if variant != "argon2id" && variant != "argon2i" {
		return false, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, errBadHash
	}
	var m, t uint64
	var p uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return false, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return false, errBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return false, errBadHash
		}
	}
	// Refuse parameters no sane writer uses: a stored hash must not be able
	// to make a bind allocate gigabytes or spin for minutes.
	if m < 8 || m > 1<<21 || t < 1 || t > 64 || p < 1 || p > 64 {
		return false, errBadHash
	}
	dec := func(x string) ([]byte, error) {
		return base64.RawStdEncoding.DecodeString(strings.TrimRight(x, "="))
	}
	salt, err := dec(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := dec(parts[5])
	if err != nil || len(want) < 4 || len(want) > 1024 {
		return false, errBadHash
	}
	var got []byte
	if variant == "argon2id" {
		got = argon2.IDKey([]byte(pw), salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	} else {
		got = argon2.Key([]byte(pw), salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// matchesAny reports whether pw matches one of the stored values; values in
// schemes it cannot read never match.
func matchesAny(stored []string, pw string) bool {
	for _, s := range stored {
		if ok, err := verifyPassword(s, pw); err == nil && ok {
			return true
		}
	}
	return false
}
