// Package exchange is the exchange of cases with other systems: the signed bundle (a zip of
// cases.json, the attachment files, a manifest and an Ed25519 signature), the export of cases as
// records with codes instead of local ids, and the import of a checked bundle as copies of the
// exporter's cases (mirrors), matched again on re-import.
//
// Its ports are MirrorStore and Store (the cases and slips it reads and writes). The one
// transaction of an import is the caller's (scheduler.ImportBundle). It imports org and casework.
package exchange
