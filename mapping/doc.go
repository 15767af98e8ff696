// Package mapping compiles mapping tables and implements bridge.Mapper with
// them. A table is a TOML file for one resource type (User or Group): where
// entries live (container, object classes, an RDN template) and one
// [[attribute]] row per SCIM attribute, naming the directory attribute that
// stores it, who owns it (scim, directory or both), the transforms its values
// go through on the way in, and, for rows without a SCIM attribute, the
// template or constant that computes a directory attribute. From the rows a
// Table derives everything else: the SCIM schema it serves (the RFC 7643
// definitions of what is mapped, nothing more), the entry for a new
// resource, the changes that make an entry hold a resource (never touching
// what SCIM does not own), the resource an entry represents, and the
// directory filter for a SCIM filter. The two directions are kept inverse so
// that writing back what was read changes nothing.
package mapping
