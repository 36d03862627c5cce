package postgres

// SetPurgeBatch sets how many rows one statement of PurgeSecurityEvents
// deletes, so that a test crosses batches with a few rows.
func SetPurgeBatch(s *Store, n int) { s.purgeBatch = n }
