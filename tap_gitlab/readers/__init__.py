"""Read strategies: each turns one partition of a `StreamSpec` into batches of records (tap_gitlab/spec.py).

Every reader is `read(spec, run, partition, bookmark) -> Iterator[Batch]` and runs in a partition worker:

- `listing.read`: a plain listing, or a group-level one narrowed on statement timeouts (`WindowNarrowing`);
- `fan_out.read`: the children of each parent changed since the bookmark;
- `project_jobs.read`: jobs, project-wide (keyset) on a first read, per changed pipeline after;
- `project_fields.languages` / `project_fields.readme`: one request per project, reshaped;
- `events.read`: a project's events in windows of local days (GitLab's count cap and day filters);
- `commits.read`: each branch as a revision range from its last head;
- `scope_records.read`: the groups and projects the scope resolution read (no request).
"""
