"""The life of a run, without keras: where state lives (`paths`), the run store and its
schema versions (`store`, `migrations`), queueing and starting workers (`launcher`), a
worker's life (`worker`, `procs`, `errors`), a run folder's files (`artifacts`) and the checks
before a run is queued (`preflight`)."""
