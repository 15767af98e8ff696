package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

var (
	_ bridge.Directory     = (*Embedded)(nil)
	_ bridge.Authenticator = (*Embedded)(nil)
)

// EmbeddedOptions configures OpenEmbedded. The zero value of every field but
// DataDir has a default.
type EmbeddedOptions struct {
	// DataDir holds the bbolt file (embedded.db, mode 0600). It is created
	// (mode 0700) when missing.
	DataDir string
	// Suffix is the naming context, "dc=example,dc=com" by default.
	Suffix string
	// AdminDN is the root DN, "cn=admin,<suffix>" by default. Like slapd's
	// rootdn it is not an entry: it binds with AdminPassword and may do
	// anything.
	AdminDN string
	// AdminPassword is kept in memory only as a hash; empty means the
	// administrator cannot bind over LDAP.
	AdminPassword string
	Logger        hclog.Logger
	// Clock gives the time of every timestamp; time.Now when nil.
	Clock func() time.Time
	// IDs generates entryUUIDs; random (v4) UUIDs when nil.
	IDs func() string
	// Argon2 sets the cost of new password hashes; DefaultArgon2 when nil.
	// Tests pass cheaper parameters.
	Argon2 *Argon2Params
}

// DataFileName is the name of the bbolt file inside DataDir.
const DataFileName = "embedded.db"

// Embedded is the embedded directory: a bridge.Directory kept in a bbolt file
// in process. Every write is one bbolt read-write transaction, synced to disk
// before it returns, so a write that was acknowledged survives a crash and a
// write that was not leaves nothing behind. It is safe for concurrent use:
// bbolt serializes writers and gives readers consistent snapshots.
type Embedded struct {
	db        *bolt.DB
	log       hclog.Logger
	clock     func() time.Time
	ids       func() string
	argon     Argon2Params
	suffix    dn
	suffixN   string
	adminDN   string
	adminN    string
	adminHash string
}

// OpenEmbedded opens (creating on first use) the embedded directory in
// opts.DataDir and seeds the suffix, ou=people and ou=groups.
func OpenEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	const op = "embedded.OpenEmbedded"
	if opts.DataDir == "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "a data directory is required")
	}
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=com"
	}
	suffix, err := parseDN(opts.Suffix)
	if err != nil || len(suffix) == 0 {
		return nil, bridge.E(op, bridge.KindInvalidValue, "the suffix is not a valid DN", err)
	}
	if opts.AdminDN == "" {
		opts.AdminDN = "cn=admin," + suffix.String()
	}
	admin, err := parseDN(opts.AdminDN)
	if err != nil || len(admin) == 0 {
		return nil, bridge.E(op, bridge.KindInvalidValue, "the admin DN is not valid", err)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.IDs == nil {
		opts.IDs = uuid.NewString
	}
	e := &Embedded{
		log:     opts.Logger.Named("embedded"),
		clock:   opts.Clock,
		ids:     opts.IDs,
		argon:   DefaultArgon2,
		suffix:  suffix,
		suffixN: suffix.norm(),
		adminDN: admin.String(),
		adminN:  admin.norm(),
	}
	if opts.Argon2 != nil {
		e.argon = *opts.Argon2
	}
	if opts.AdminPassword != "" {
		if e.adminHash, err = hashPassword(opts.AdminPassword, e.argon); err != nil {
			return nil, bridge.E(op, bridge.KindInternal, "", err)
		}
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "the data directory cannot be created", err)
	}
	// A timeout, because bbolt locks the file: a second process opening the
	// same directory must fail, not hang.
	db, err := bolt.Open(filepath.Join(opts.DataDir, DataFileName), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, bridge.E(op, bridge.KindUnavailable, "the embedded directory's data file is in use", err)
		}
		return nil, bridge.E(op, bridge.KindUnavailable, "the embedded directory's data file cannot be opened", err)
	}
	e.db = db
	if err := e.init(); err != nil {
		_ = db.Close()
		return nil, bridge.Wrap(op, err)
	}
	e.log.Info("embedded directory open", "path", db.Path(), "suffix", e.suffix.String())
	return e, nil
}

// init creates the buckets and, on first open, the suffix entry and the
// people and groups containers.
func (e *Embedded) init() error {
	const op = "embedded.(*Embedded).init"
	err := e.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntries, bucketDN, bucketKids, bucketEq, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if s := meta.Get([]byte("suffix")); s != nil && string(s) != e.suffixN {
			return bridge.Errorf(op, bridge.KindInvalidValue, "the data directory holds another suffix")
		}
		if err := meta.Put([]byte("suffix"), []byte(e.suffixN)); err != nil {
			return err
		}
		if err := meta.Put([]byte("format"), []byte("1")); err != nil {
			return err
		}
		now := formatGeneralizedTime(e.clock())
		if idByNDN(tx, e.suffixN) == "" {
			top := e.suffix[0]
			attrs := map[string][]string{}
			switch strings.ToLower(canonicalAttrName(top[0].Type)) {
			case "dc":
				attrs["objectClass"] = []string{"top", "dcObject", "organization"}
				attrs["dc"] = []string{top[0].Value}
				attrs["o"] = []string{top[0].Value}
			case "o":
				attrs["objectClass"] = []string{"top", "organization"}
				attrs["o"] = []string{top[0].Value}
			case "ou":
				attrs["objectClass"] = []string{"top", "organizationalUnit"}
				attrs["ou"] = []string{top[0].Value}
			default:
				return bridge.Errorf(op, bridge.KindInvalidValue, "the suffix must be named by dc, o or ou")
			}
			if _, err := e.addTx(tx, op, e.suffix, attrs, e.adminDN, now); err != nil {
				return err
			}
		}
		for _, ou := range []string{"people", "groups"} {
			d := append(dn{rdn{{Type: "ou", Value: ou}}}, e.suffix...)
			if idByNDN(tx, d.norm()) != "" {
				continue
			}
			attrs := map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {ou}}
			if _, err := e.addTx(tx, op, d, attrs, e.adminDN, now); err != nil {
				return err
			}
		}
		return nil
	})
	return translateBolt(op, err)
}

// Close closes the data file. Calls after Close fail with KindUnavailable.
func (e *Embedded) Close() error {
	const op = "embedded.(*Embedded).Close"
	if err := e.db.Close(); err != nil {
		return translateBolt(op, err)
	}
	return nil
}

// Suffix returns the naming context, as the directory writes it.
func (e *Embedded) Suffix() string { return e.suffix.String() }

// AdminDN returns the administrator's DN.
func (e *Embedded) AdminDN() string { return e.adminDN }

// Path returns the path of the bbolt file.
func (e *Embedded) Path() string { return e.db.Path() }

// resultCode carries the LDAP result code slapd would answer for a failure.
// The LDAP server answers with it; bridge callers see only the error's Kind.
type resultCode uint16

func (c resultCode) Error() string {
	return fmt.Sprintf("ldap result %d (%s)", uint16(c), ldap.LDAPResultCodeMap[uint16(c)])
}

func fail(op string, kind bridge.Kind, code uint16, msg string) error {
	switch code {
	case ldap.LDAPResultUndefinedAttributeType, ldap.LDAPResultObjectClassViolation,
		ldap.LDAPResultObjectClassModsProhibited, ldap.LDAPResultNamingViolation:
		// What the schema refuses was written by the mapping table, not
		// chosen by a client (as slapd's answers are classified in ldapside).
		return &bridge.Error{Op: op, Kind: bridge.KindMisconfigured, Msg: msg, Err: resultCode(code),
			Fix: "the embedded directory's schema refuses this (" + msg + "): fix the mapping table's rows and object_classes"}
	}
	return bridge.E(op, kind, msg, resultCode(code))
}

func ctxErr(op string, ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return bridge.E(op, bridge.KindUnavailable, "the request was cancelled", err)
	}
	return nil
}

// Ping checks that the data file is open.
func (e *Embedded) Ping(ctx context.Context) error {
	const op = "embedded.(*Embedded).Ping"
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	return translateBolt(op, e.db.View(func(tx *bolt.Tx) error { return nil }))
}

// Get reads an entry by id, if it lies at or below base.
func (e *Embedded) Get(ctx context.Context, base, id string, attrs []string) (*bridge.Entry, error) {
	const op = "embedded.(*Embedded).Get"
	if err := ctxErr(op, ctx); err != nil {
		return nil, err
	}
	baseN := ""
	if base != "" {
		b, err := parseDN(base)
		if err != nil {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the base DN is not valid")
		}
		baseN = b.norm()
	}
	var out *bridge.Entry
	err := e.db.View(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, normID(id))
		if errors.Is(err, errNotFound) || err == nil && baseN != "" && !ndnUnder(r.NDN, baseN) {
			return fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "")
		}
		if err != nil {
			return err
		}
		out = r.entry(attrs)
		return nil
	})
	return out, translateBolt(op, err)
}

// GetByDN reads the entry at dn.
func (e *Embedded) GetByDN(ctx context.Context, dnStr string, attrs []string) (*bridge.Entry, error) {
	const op = "embedded.(*Embedded).GetByDN"
	if err := ctxErr(op, ctx); err != nil {
		return nil, err
	}
	d, err := parseDN(dnStr)
	if err != nil {
		return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the DN is not valid")
	}
	var out *bridge.Entry
	err = e.db.View(func(tx *bolt.Tx) error {
		r, err := getRecordByNDN(tx, d.norm())
		if errors.Is(err, errNotFound) {
			return fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "")
		}
		if err != nil {
			return err
		}
		out = r.entry(attrs)
		return nil
	})
	return out, translateBolt(op, err)
}

// normID lower-cases an id the way entryUUID's equality rule compares it.
func normID(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// ndnUnder reports whether the normalized DN ndn equals base or lies below
// it. Normalized DNs escape the commas inside values, so a suffix test on
// ",<base>" cannot be fooled by a value.
func ndnUnder(ndn, base string) bool {
	return base == "" || ndn == base || strings.HasSuffix(ndn, ","+base)
}

// entry turns a record into a bridge.Entry. attrs nil returns every user
// attribute but userPassword (a hash is no business of SCIM; ask for it by
// name); names may also be operational attributes, "*" or "+".
func (r *record) entry(attrs []string) *bridge.Entry {
	out := &bridge.Entry{
		ID:       r.ID,
		DN:       r.DN,
		Attrs:    map[string][]string{},
		Version:  csnVersion(r.CSN),
		Disabled: r.disabled(),
	}
	out.Created, _ = time.Parse(genTimeLayout, r.Created)
	out.Modified, _ = time.Parse(genTimeLayout, r.Modified)
	if attrs == nil {
		for k, v := range r.Attrs {
			if def := lookupAttr(k); def != nil && (def.Oper || def.Name == "userPassword") {
				continue
			}
			out.Attrs[k] = append([]string(nil), v...)
		}
		return out
	}
	for name, vals := range r.project(attrs, true) {
		out.Attrs[name] = vals
	}
	return out
}

// project selects attributes the way an LDAP search's attribute list does:
// "*" all user attributes, "+" all operational ones, "1.1" none, names
// case-insensitively. userPassword is included only when withPassword.
func (r *record) project(attrs []string, withPassword bool) map[string][]string {
	out := map[string][]string{}
	all, oper := len(attrs) == 0, false
	for _, a := range attrs {
		switch a {
		case "*":
			all = true
		case "+":
			oper = true
		}
	}
	if all {
		for k, v := range r.Attrs {
			if def := lookupAttr(k); def != nil && def.Oper {
				continue
			}
			if k == "userPassword" && !withPassword {
				continue
			}
			out[k] = append([]string(nil), v...)
		}
	}
	if oper {
		for _, def := range attrDefs {
			if !def.Oper {
				continue
			}
			if v := r.values(def.Name); len(v) > 0 {
				out[def.Name] = append([]string(nil), v...)
			}
		}
	}
	for _, a := range attrs {
		if a == "*" || a == "+" || a == "1.1" || strings.HasPrefix(a, "@") {
			continue
		}
		def := lookupAttr(ldapAttr(a))
		if def == nil || def.Name == "userPassword" && !withPassword {
			continue
		}
		if v := r.values(def.Name); len(v) > 0 {
			out[def.Name] = append([]string(nil), v...)
		}
	}
	return out
}
