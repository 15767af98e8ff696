package ldapside

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The asn1-ber forms the hand-written BER replaced: the reference every
// case below is compared with.

func asn1AttributeSelection(attrs []string) []byte {
	sel := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "AttributeSelection")
	for _, a := range attrs {
		sel.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	return sel.Bytes()
}

func asn1SearchEntry(v string) *ldap.Entry {
	p, err := ber.DecodePacketErr([]byte(v))
	if err != nil || p.ClassType != ber.ClassApplication || p.Tag != ldap.ApplicationSearchResultEntry || len(p.Children) != 2 {
		return nil
	}
	dn, ok := p.Children[0].Value.(string)
	if !ok {
		return nil
	}
	e := &ldap.Entry{DN: dn, Attributes: []*ldap.EntryAttribute{}} // empty slices, as go-ldap's
	for _, a := range p.Children[1].Children {
		if len(a.Children) != 2 {
			return nil
		}
		name, ok := a.Children[0].Value.(string)
		if !ok {
			return nil
		}
		attr := &ldap.EntryAttribute{Name: name, Values: []string{}, ByteValues: [][]byte{}}
		for _, v := range a.Children[1].Children {
			attr.Values = append(attr.Values, string(v.ByteValue))
			attr.ByteValues = append(attr.ByteValues, v.ByteValue)
		}
		e.Attributes = append(e.Attributes, attr)
	}
	return e
}

// encodeSearchEntry is a SearchResultEntry as a server sends it.
func encodeSearchEntry(e *ldap.Entry) string {
	p := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "Entry")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, e.DN, "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range e.Attributes {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.Name, "Type"))
		vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range a.Values {
			vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "Value"))
		}
		pa.AppendChild(vals)
		list.AppendChild(pa)
	}
	p.AppendChild(list)
	return string(p.Bytes())
}

// userEntry is shaped as a Post-Read answer for the users table: the
// attributes the table names and the operational ones.
func userEntry() *ldap.Entry {
	e := &ldap.Entry{DN: "uid=u0000042,ou=People,dc=example,dc=test"}
	add := func(name string, vals ...string) {
		e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: name, Values: vals})
	}
	add("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	add("uid", "u0000042")
	add("cn", "Given42 Family42")
	add("sn", "Family42")
	add("givenName", "Given42")
	add("displayName", "Given42 Family42")
	add("mail", "u0000042@example.com")
	add("title", "Title 8")
	add("employeeNumber", "42")
	add("departmentNumber", "Sales")
	add("telephoneNumber", "+1 555 0100")
	add("mobile", "+1 555 0101")
	add("l", "Springfield")
	add("st", "IL")
	add("postalCode", "62701")
	add("street", "742 Evergreen Terrace")
	add("o", "Example")
	add("ou", "People")
	add("preferredLanguage", "en")
	add("description", strings.Repeat("d", 300)) // a two-byte length
	add("entryUUID", "7a7d4d36-1c2b-103f-8b3e-6f3e2a1b4c5d")
	add("entryCSN", "20261202182000.123456Z#000000#000#000000")
	add("createTimestamp", "20261202182000Z")
	add("modifyTimestamp", "20261202182000Z")
	add("pwdChangedTime", "20261202182000Z")
	for _, a := range e.Attributes {
		for _, v := range a.Values {
			a.ByteValues = append(a.ByteValues, []byte(v))
		}
	}
	return e
}

func TestAttributeSelectionMatchesAsn1Ber(t *testing.T) {
	cases := [][]string{
		nil,
		{"*"},
		{"cn", "sn", "entryUUID", "entryCSN", "+"},
		{strings.Repeat("a", 127), strings.Repeat("b", 128), strings.Repeat("c", 300)},
	}
	var many []string
	for i := range 2000 { // a sequence longer than 0xffff bytes
		many = append(many, fmt.Sprintf("attribute%04d-with-a-long-name", i))
	}
	cases = append(cases, many)
	for _, attrs := range cases {
		if got, want := attributeSelection(attrs), asn1AttributeSelection(attrs); string(got) != string(want) {
			t.Errorf("%d attributes: % x, want % x", len(attrs), got[:min(len(got), 16)], want[:min(len(want), 16)])
		}
	}
}

func TestEqualityAndMatchesCompileFilter(t *testing.T) {
	for _, vals := range [][2]string{
		{"20261202182000.123456Z#000000#000#000000", "7a7d4d36-1c2b-103f-8b3e-6f3e2a1b4c5d"},
		{"", ""},
		{`*()\` + "\x00", "é, ü and 日本"},
		{strings.Repeat("v", 130), strings.Repeat("w", 70000)},
	} {
		f, err := ldap.CompileFilter("(&(entryCSN=" + ldap.EscapeFilter(vals[0]) + ")(entryUUID=" + ldap.EscapeFilter(vals[1]) + "))")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := equalityAnd("entryCSN", vals[0], "entryUUID", vals[1]), f.Bytes(); string(got) != string(want) {
			t.Errorf("%.20q: % x, want % x", vals, got[:min(len(got), 24)], want[:min(len(want), 24)])
		}
	}
}

func TestDecodeSearchEntryMatchesAsn1Ber(t *testing.T) {
	big := userEntry()
	big.Attributes = append(big.Attributes, &ldap.EntryAttribute{Name: "jpegPhoto",
		Values: []string{strings.Repeat("\x00\xff", 40000)}, ByteValues: [][]byte{[]byte(strings.Repeat("\x00\xff", 40000))}})
	for _, e := range []*ldap.Entry{
		userEntry(),
		big,
		{DN: "cn=x"},
		{DN: "", Attributes: []*ldap.EntryAttribute{{Name: "cn"}}}, // no values: a right given, no read right
	} {
		v := encodeSearchEntry(e)
		got, want := decodeSearchEntry(v), asn1SearchEntry(v)
		if want == nil {
			t.Fatalf("the reference does not decode %q", e.DN)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: decoded %+v, want %+v", e.DN, got, want)
		}
	}
	// Not entries: nothing is taken for one (the caller then reads back).
	v := encodeSearchEntry(userEntry())
	for name, bad := range map[string]string{
		"empty":            "",
		"empty sequence":   "\x30\x00",
		"truncated":        v[:len(v)-1],
		"length too long":  v[:1] + "\x84\xff\xff\xff\xff" + v[2:],
		"indefinite":       "\x64\x80\x04\x00\x30\x00\x00\x00",
		"high tag":         "\x7f\x01\x00",
		"no attributes":    "\x64\x02\x04\x00",
		"extra element":    "\x64\x06\x04\x00\x30\x00\x04\x00",
		"value not string": "\x64\x0d\x04\x00\x30\x09\x30\x07\x04\x01a\x31\x02\x02\x00",
	} {
		if e := decodeSearchEntry(bad); e != nil {
			t.Errorf("%s: decoded to %+v", name, e)
		}
	}
}

// FuzzDecodeSearchEntry: whatever a server sends, the decoder does not
// panic, and what it accepts the asn1-ber reference reads the same way.
func FuzzDecodeSearchEntry(f *testing.F) {
	f.Add(encodeSearchEntry(userEntry()))
	f.Add(encodeSearchEntry(&ldap.Entry{DN: "cn=x"}))
	f.Add("\x64\x0b\x04\x00\x30\x07\x30\x05\x04\x01a\x31\x00")
	f.Fuzz(func(t *testing.T, v string) {
		got := decodeSearchEntry(v)
		if got == nil {
			return
		}
		if want := asn1SearchEntry(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, asn1-ber %+v", got, want)
		}
	})
}

// BenchmarkPostRead is the gateway's own cost of the Post-Read control on
// every PUT and PATCH: the selection it sends and the entry it decodes.
func BenchmarkPostRead(b *testing.B) {
	e := userEntry()
	var attrs []string
	for _, a := range e.Attributes {
		attrs = append(attrs, a.Name)
	}
	v := encodeSearchEntry(e)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			(&postReadControl{attrs: attrs}).Encode()
		}
	})
	b.Run("encode-asn1ber", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
			p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidPostRead, "Control Type (Post-Read)"))
			p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(asn1AttributeSelection(attrs)), "Control Value (Post-Read)"))
		}
	})
	b.Run("assertion", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			(&assertionControl{filter: equalityAnd(attrEntryCSN, "20261202182000.123456Z#000000#000#000000", attrEntryUUID, "7a7d4d36-1c2b-103f-8b3e-6f3e2a1b4c5d")}).Encode()
		}
	})
	b.Run("assertion-compilefilter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, _ := ldap.CompileFilter("(&(" + attrEntryCSN + "=" + ldap.EscapeFilter("20261202182000.123456Z#000000#000#000000") + ")(" +
				attrEntryUUID + "=" + ldap.EscapeFilter("7a7d4d36-1c2b-103f-8b3e-6f3e2a1b4c5d") + "))")
			(&assertionControl{filter: f.Bytes()}).Encode()
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if decodeSearchEntry(v) == nil {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("decode-asn1ber", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if asn1SearchEntry(v) == nil {
				b.Fatal("not decoded")
			}
		}
	})
}
