package recording

import "os"

// SetCreateFile makes the recorder create its media files with create (a full disk in tests).
func SetCreateFile(r *Recorder, create func(string) (*os.File, error)) { r.createFile = create }
