package scheduler

import "context"

// ImportBundle imports a checked bundle into st in one transaction, and the attachment files into
// blobs. own is this system's key id. allow is asked for every case that would be written (created
// or updated) with its registering unit here; its error aborts the import. Re-importing the same
// bundle changes nothing: each case is then unchanged or matched.
func ImportBundle(ctx context.Context, st Store, blobs Blobs, b *Bundle, own string, allow func(Unit) error) ([]CaseImport, error) {
	doc, err := ParseCases(b)
	if err != nil {
		return nil, err
	}
	var out []CaseImport
	err = st.InTx(ctx, func(tx Store) error {
		var err error
		out, err = ImportCases(ctx, tx, blobs, b, doc, own, allow)
		return err
	})
	return out, err
}
