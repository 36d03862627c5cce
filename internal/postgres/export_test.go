package postgres

// SetPurgeBatch sets how many rows one statement of PurgeSecurityEvents
// deletes, so that a test crosses batches with a few rows.
func SetPurgeBatch(s *Store, n int) { s.purgeBatch = n }

// EventBatches returns how many transactions of several webhook user events
// s ran, and how many of them failed.
func EventBatches(s *Store) (shared, failed int64) {
	return s.events.shared.Load(), s.events.failed.Load()
}
