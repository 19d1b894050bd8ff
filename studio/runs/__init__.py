"""The life of a run, without keras: where state lives (`paths`), the run store and its
schema versions (`store`, `migrations`), queueing and starting workers (`launcher`, and the
warm spare worker it hands runs to: `spare`), a worker's life (`worker`, `procs`, `errors`,
and the `phases` it logs on its way to the first metric row), a run folder's files
(`artifacts`) and the checks before a run is queued (`preflight`)."""
