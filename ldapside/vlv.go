package ldapside

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// OIDs of the Virtual List View controls (draft-ietf-ldapext-ldapv3-vlv-09)
// and of the other controls and operations this package looks for in the
// root DSE.
const (
	oidVLVRequest       = "2.16.840.1.113730.3.4.9"
	oidVLVResponse      = "2.16.840.1.113730.3.4.10"
	oidSortRequest      = "1.2.840.113556.1.4.473"
	oidPagedResults     = "1.2.840.113556.1.4.319"
	oidPermissiveModify = "1.2.840.113556.1.4.1413"
	oidMatchedValues    = "1.2.826.0.1.3344810.2.3"
	oidStartTLS         = "1.3.6.1.4.1.1466.20037"
)

// vlvRequest is the byOffset form of the VLV request control. go-ldap has no
// VLV control type, so this one encodes itself with asn1-ber.
//
//	VirtualListViewRequest ::= SEQUENCE {
//	    beforeCount    INTEGER (0..maxInt),
//	    afterCount     INTEGER (0..maxInt),
//	    target CHOICE {
//	        byOffset [0] SEQUENCE {
//	            offset       INTEGER (1 .. maxInt),
//	            contentCount INTEGER (0 .. maxInt) },
//	        greaterThanOrEqual [1] AssertionValue },
//	    contextID OCTET STRING OPTIONAL }
type vlvRequest struct {
	BeforeCount  int64
	AfterCount   int64
	Offset       int64 // 1-based
	ContentCount int64 // 0: the offset is absolute
	ContextID    []byte
	Critical     bool
}

var _ ldap.Control = (*vlvRequest)(nil)

func (c *vlvRequest) GetControlType() string { return oidVLVRequest }

func (c *vlvRequest) String() string {
	return fmt.Sprintf("VLV request before=%d after=%d offset=%d content_count=%d", c.BeforeCount, c.AfterCount, c.Offset, c.ContentCount)
}

// value returns the BER encoding of the control value.
func (c *vlvRequest) value() []byte {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "VirtualListViewRequest")
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.BeforeCount, "beforeCount"))
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.AfterCount, "afterCount"))
	byOffset := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "byOffset")
	byOffset.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.Offset, "offset"))
	byOffset.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.ContentCount, "contentCount"))
	seq.AppendChild(byOffset)
	if len(c.ContextID) > 0 {
		seq.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(c.ContextID), "contextID"))
	}
	return seq.Bytes()
}

func (c *vlvRequest) Encode() *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidVLVRequest, "Control Type (VLV request)"))
	if c.Critical {
		p.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, "Criticality"))
	}
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(c.value()), "Control Value (VLV request)"))
	return p
}

// decodeVLVRequest parses a request control value; the tests use it for the
// encode/decode round trip.
func decodeVLVRequest(b []byte) (*vlvRequest, error) {
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return nil, fmt.Errorf("vlv request: %w", err)
	}
	if p.ClassType != ber.ClassUniversal || p.Tag != ber.TagSequence || len(p.Children) < 3 || len(p.Children) > 4 {
		return nil, errors.New("vlv request: not a sequence of 3 or 4")
	}
	var r vlvRequest
	if r.BeforeCount, err = berInt(p.Children[0]); err != nil {
		return nil, err
	}
	if r.AfterCount, err = berInt(p.Children[1]); err != nil {
		return nil, err
	}
	t := p.Children[2]
	if t.ClassType != ber.ClassContext || t.Tag != 0 || len(t.Children) != 2 {
		return nil, errors.New("vlv request: target is not byOffset")
	}
	if r.Offset, err = berInt(t.Children[0]); err != nil {
		return nil, err
	}
	if r.ContentCount, err = berInt(t.Children[1]); err != nil {
		return nil, err
	}
	if len(p.Children) == 4 {
		if r.ContextID, err = berOctets(p.Children[3]); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// vlvResponse is the decoded VLV response control.
//
//	VirtualListViewResponse ::= SEQUENCE {
//	    targetPosition INTEGER (0 .. maxInt),
//	    contentCount   INTEGER (0 .. maxInt),
//	    virtualListViewResult ENUMERATED { ... },
//	    contextID      OCTET STRING OPTIONAL }
type vlvResponse struct {
	TargetPosition int64
	ContentCount   int64
	Result         int64 // an LDAP result code: 0, 61 offsetRangeError, 76, ...
	ContextID      []byte
}

// decodeVLVResponse parses the value of a VLV response control. It must not
// panic on anything a server (or an attacker in the middle) sends.
func decodeVLVResponse(b []byte) (*vlvResponse, error) {
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return nil, fmt.Errorf("vlv response: %w", err)
	}
	if p.ClassType != ber.ClassUniversal || p.Tag != ber.TagSequence || len(p.Children) < 3 || len(p.Children) > 4 {
		return nil, errors.New("vlv response: not a sequence of 3 or 4")
	}
	var r vlvResponse
	if r.TargetPosition, err = berInt(p.Children[0]); err != nil {
		return nil, err
	}
	if r.ContentCount, err = berInt(p.Children[1]); err != nil {
		return nil, err
	}
	if r.Result, err = berInt(p.Children[2]); err != nil {
		return nil, err
	}
	if len(p.Children) == 4 {
		if r.ContextID, err = berOctets(p.Children[3]); err != nil {
			return nil, err
		}
	}
	if r.TargetPosition < 0 || r.ContentCount < 0 {
		return nil, errors.New("vlv response: negative position or count")
	}
	return &r, nil
}

// encode is the inverse of decodeVLVResponse, for tests.
func (r *vlvResponse) encode() []byte {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "VirtualListViewResponse")
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, r.TargetPosition, "targetPosition"))
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, r.ContentCount, "contentCount"))
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, r.Result, "virtualListViewResult"))
	if len(r.ContextID) > 0 {
		seq.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(r.ContextID), "contextID"))
	}
	return seq.Bytes()
}

// findVLVResponse finds and decodes the VLV response among controls. ok is
// false when the server sent none.
func findVLVResponse(ctrls []ldap.Control) (resp *vlvResponse, ok bool, err error) {
	c := ldap.FindControl(ctrls, oidVLVResponse)
	if c == nil {
		return nil, false, nil
	}
	s, isString := c.(*ldap.ControlString)
	if !isString {
		return nil, true, fmt.Errorf("vlv response: unexpected control type %T", c)
	}
	resp, err = decodeVLVResponse([]byte(s.ControlValue))
	return resp, true, err
}

// controlsOfError digs the response controls out of a failed result: go-ldap
// (and wireConn, which keeps its errors) returns an *ldap.Error and drops the
// controls when the result code is not success, but sssvlv reports
// offsetRangeError with the VLV response control (and its contentCount)
// attached to exactly such a result. The error's Packet still holds them.
func controlsOfError(err error) []ldap.Control {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Packet == nil || len(le.Packet.Children) < 3 {
		return nil
	}
	cp := le.Packet.Children[2]
	if cp.ClassType != ber.ClassContext || cp.Tag != 0 {
		return nil
	}
	var out []ldap.Control
	for _, child := range cp.Children {
		c, derr := ldap.DecodeControl(child)
		if derr == nil && c != nil {
			out = append(out, c)
		}
	}
	return out
}

func berInt(p *ber.Packet) (int64, error) {
	if p == nil || p.ClassType != ber.ClassUniversal || (p.Tag != ber.TagInteger && p.Tag != ber.TagEnumerated) {
		return 0, errors.New("vlv: expected an integer")
	}
	v, err := ber.ParseInt64(p.Data.Bytes())
	if err != nil {
		return 0, fmt.Errorf("vlv: %w", err)
	}
	return v, nil
}

func berOctets(p *ber.Packet) ([]byte, error) {
	if p == nil || p.ClassType != ber.ClassUniversal || p.Tag != ber.TagOctetString {
		return nil, errors.New("vlv: expected an octet string")
	}
	return append([]byte(nil), p.Data.Bytes()...), nil
}
