package scheduler

import (
	"context"

	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// ImportBundle imports a checked bundle into st in one transaction, and the attachment files into
// blobs. own is this system's key id. allow is asked for every case that would be written (created
// or updated) with its registering unit here; its error aborts the import. Re-importing the same
// bundle changes nothing: each case is then unchanged or matched.
func ImportBundle(ctx context.Context, st Store, blobs casework.Blobs, b *exchange.Bundle, own string, allow func(org.Unit) error) ([]exchange.CaseImport, error) {
	doc, err := exchange.ParseCases(b)
	if err != nil {
		return nil, err
	}
	var out []exchange.CaseImport
	err = st.InTx(ctx, func(tx Store) error {
		var err error
		out, err = exchange.ImportCases(ctx, tx, blobs, b, doc, own, allow)
		return err
	})
	return out, err
}
