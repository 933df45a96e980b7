package archiver

import (
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// filePather is implemented by the fs driver: the file that holds a key is
// not always root + key (names are escaped on case-insensitive
// filesystems), and the URL a script is given must be the real file.
type filePather interface {
	Path(key string) (string, error)
}

// objectAddress fills in where key is stored in store: the store's
// Location, the bucket's name ("" on fs) and the object's URL (see
// catalog.Address), as the catalog and task.json record them.
func objectAddress(store storage.Store, a *catalog.Asset, key string) {
	a.Key, a.Location = key, store.Location()
	a.Bucket, a.URL = catalog.Address(a.Location, key)
	if fp, ok := store.(filePather); ok && key != "" {
		if p, err := fp.Path(key); err == nil {
			a.URL = catalog.FileURL(p)
		}
	}
}
